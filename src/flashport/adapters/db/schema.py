"""The relational schema (SQLAlchemy Core). Migrations under ``migrations/versions`` create it; a test
checks that the migrated database and this metadata never drift apart.

Money columns are integer fen (``*_fen``); times are timezone-aware UTC (see :class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite gives them back naive, so we put the zone back."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType: Any = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId: Any = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def _id() -> sa.Column[Any]:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def _created() -> sa.Column[Any]:
    return sa.Column("created_at", UTCDateTime(), nullable=False)


suppliers = sa.Table(
    "suppliers",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("contact_email", sa.String(320)),
    _created(),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("supplier_id", BigId, sa.ForeignKey("suppliers.id")),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    _created(),
    # Raised by log-out, a password change and deactivation: tokens of a lower version are refused.
    sa.Column("session_version", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint(
        "role IN ('buyer', 'operator', 'supplier', 'merchandiser', 'customer_service')", name="role"
    ),
    sa.CheckConstraint("(role = 'supplier') = (supplier_id IS NOT NULL)", name="supplier_link"),
)

# Each raise of a user's session version, kept for a token lifetime: every API process reads the new
# ones (services/accounts/sessions.py) into its revocation list.
session_revocations = sa.Table(
    "session_revocations",
    metadata,
    _id(),
    sa.Column("user_id", BigId, nullable=False),
    sa.Column("min_version", sa.Integer, nullable=False),
    _created(),
    sa.Index("ix_session_revocations_created_at", "created_at"),
)

brands = sa.Table(
    "brands",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("logo_url", sa.String(500)),
    _created(),
    # What Chinese readers of the storefront see; empty: the original is shown (0013_zhcn).
    sa.Column("name_zh", sa.String(200), nullable=False, server_default=""),
    sa.Column("description_zh", sa.Text, nullable=False, server_default=""),
)

warehouses = sa.Table(
    "warehouses",
    metadata,
    _id(),
    sa.Column("code", sa.String(40), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("customs_district", sa.String(4)),
    sa.Column("country", sa.String(2), nullable=False),
    _created(),
    sa.CheckConstraint("kind IN ('bonded', 'overseas')", name="kind"),
    sa.CheckConstraint("kind <> 'bonded' OR customs_district IS NOT NULL", name="bonded_district"),
)

products = sa.Table(
    "products",
    metadata,
    _id(),
    sa.Column("brand_id", BigId, sa.ForeignKey("brands.id"), nullable=False, index=True),
    sa.Column("supplier_id", BigId, sa.ForeignKey("suppliers.id"), nullable=False, index=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("images", JSONType, nullable=False),
    sa.Column("origin_country", sa.String(2), nullable=False),
    sa.Column("hs_code", sa.String(10), nullable=False),
    sa.Column("legal_unit", sa.String(3), nullable=False),
    sa.Column("tax_category", sa.String(32), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # The Chinese display title and description (not the name declared to customs); 0013_zhcn.
    sa.Column("title_zh", sa.String(300), nullable=False, server_default=""),
    sa.Column("description_zh", sa.Text, nullable=False, server_default=""),
    # What of this product cannot be returned (e.g. an opened tin), in English and Chinese; "" when all
    # of it may be returned within the policy's days. Shown on the item page; 0024_preheat.
    sa.Column("return_exclusions", sa.String(500), nullable=False, server_default=""),
    sa.Column("return_exclusions_zh", sa.String(500), nullable=False, server_default=""),
)

skus = sa.Table(
    "skus",
    metadata,
    _id(),
    sa.Column("product_id", BigId, sa.ForeignKey("products.id"), nullable=False, index=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("spec", sa.String(255), nullable=False, server_default=""),
    sa.Column("barcode", sa.String(32)),
    sa.Column("original_price_fen", sa.BigInteger, nullable=False),
    sa.Column("weight_grams", sa.Integer, nullable=False),
    sa.Column("unit", sa.String(3), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("original_price_fen > 0", name="price_positive"),
    sa.CheckConstraint("weight_grams > 0", name="weight_positive"),
)

# Tax classification kept by operators (docs/tax-and-limits.md): one rule per HS prefix or per tax
# category. Rates in ten-thousandths (1300 = 13%), exact on both backends; thresholds in fen.
tax_rules = sa.Table(
    "tax_rules",
    metadata,
    _id(),
    sa.Column("hs_prefix", sa.String(10), unique=True),
    sa.Column("tax_category", sa.String(32), unique=True),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("vat_rate_bp", sa.Integer, nullable=False),
    sa.Column("consumption_tax_rate_bp", sa.Integer, nullable=False),
    sa.Column("tariff_rate_bp", sa.Integer),
    sa.Column("threshold_per_ml_or_gram_fen", sa.BigInteger),
    sa.Column("threshold_per_piece_fen", sa.BigInteger),
    sa.Column("updated_by", BigId, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("(hs_prefix IS NULL) <> (tax_category IS NULL)", name="one_key"),
)

stock = sa.Table(
    "stock",
    metadata,
    sa.Column("sku_id", BigId, sa.ForeignKey("skus.id"), primary_key=True),
    sa.Column("warehouse_id", BigId, sa.ForeignKey("warehouses.id"), primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("allotted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("allotted >= 0 AND allotted <= on_hand", name="allotted_within_on_hand"),
)

sale_events = sa.Table(
    "sale_events",
    metadata,
    _id(),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("banner_url", sa.String(500)),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("state IN ('draft', 'scheduled', 'cancelled')", name="state"),
    sa.CheckConstraint("ends_at > starts_at", name="window"),
    # From when buyers see the announced sale (items, prices, countdown, no buy button); NULL: as soon
    # as it is scheduled. 0024_preheat.
    sa.Column("preheat_at", UTCDateTime()),
    sa.CheckConstraint("preheat_at IS NULL OR preheat_at < starts_at", name="preheat_before_start"),
)

sale_items = sa.Table(
    "sale_items",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("sale_events.id"), nullable=False, index=True),
    sa.Column("sku_id", BigId, sa.ForeignKey("skus.id"), nullable=False),
    sa.Column("warehouse_id", BigId, sa.ForeignKey("warehouses.id"), nullable=False),
    sa.Column("sale_price_fen", sa.BigInteger, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("per_buyer_limit", sa.Integer, nullable=False),
    # The database truth of rule 1: units held by pending orders and units paid for.
    sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sold", sa.Integer, nullable=False, server_default="0"),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("event_id", "sku_id", name="uq_sale_items_event_sku"),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.CheckConstraint("per_buyer_limit > 0", name="limit_positive"),
    sa.CheckConstraint("sale_price_fen > 0", name="price_positive"),
    sa.CheckConstraint("reserved >= 0 AND sold >= 0 AND reserved + sold <= quantity", name="no_oversell"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _id(),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False, index=True),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    # PostgreSQL only: the inserting transaction's 64-bit id (pg_current_xact_id). Concurrent
    # transactions take ids in one order and commit in another, so a reader that pages by id alone can
    # skip a row that commits late. Readers page by (tx_seq, id) and only below the oldest running
    # transaction instead. SQLite has one writer at a time, so there id order is commit order (NULL).
    sa.Column("tx_seq", sa.BigInteger),
    sa.Index("ix_outbox_tx_seq_id", "tx_seq", "id"),
)

# --- the buy path (issue 3) -------------------------------------------------------------------------

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # UUID made by the API process: group commit
    sa.Column("order_no", sa.String(32), nullable=False, unique=True),
    # No foreign keys on hot tables (0007): each is a row lookup per order; reconcile reports dangling ids.
    sa.Column("buyer_id", BigId, nullable=False),  # users.id
    sa.Column("event_id", BigId, nullable=False),  # sale_events.id
    sa.Column("sale_item_id", BigId, nullable=False),  # sale_items.id
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("fulfilment", sa.String(16), nullable=False),
    sa.Column("goods_value_fen", sa.BigInteger, nullable=False),
    sa.Column("freight_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("discount_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("tax_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("total_fen", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    _created(),
    sa.Column("payment_deadline", UTCDateTime(), nullable=False),
    sa.Column("paid_at", UTCDateTime()),
    sa.Column("closed_at", UTCDateTime()),
    # Set when an expired or cancelled order's units are back in the stock engine: the worker retries
    # releases that a crash interrupted, and reconciliation counts unreleased units as still taken.
    sa.Column("stock_released_at", UTCDateTime()),
    # Lines of the order: 1 for every order of the buy path (the server default: the hot path writes
    # nothing more); more for a checked-out basket, whose sale_item_id and event_id are its first line's
    # and whose quantity is all its units. Code that moves units reads the lines when this is above 1.
    sa.Column("line_count", sa.Integer, nullable=False, server_default="1"),
    # A basket's holding order folded into a checked-out order (status 'merged'): that order's id.
    sa.Column("merged_into", sa.String(36)),
    sa.UniqueConstraint("buyer_id", "idempotency_key", name="uq_orders_buyer_idempotency"),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.CheckConstraint(
        "status IN ('pending_payment', 'paid', 'expired', 'cancelled', 'merged')", name="status"
    ),
    sa.Index("ix_orders_status_deadline", "status", "payment_deadline"),
    sa.Index("ix_orders_buyer_created", "buyer_id", "created_at"),
    sa.Index("ix_orders_sale_item_status", "sale_item_id", "status"),
    # Only the few closed orders whose units are not back yet: the worker looks for them every pass,
    # and a full index (or scan) of every expired order of every past sale would grow without end.
    sa.Index(
        "ix_orders_release_pending",
        "status",
        postgresql_where=sa.text("stock_released_at IS NULL AND status IN ('expired', 'cancelled')"),
        sqlite_where=sa.text("stock_released_at IS NULL AND status IN ('expired', 'cancelled')"),
    ),
)

# What the live sale board counts that the stock engine does not: units and orders paid, and units and
# orders closed unpaid (expired or cancelled), per sale item. The settlement and the expiry sweep add to
# it in the transaction that moves the orders; each adds to one of a few slots chosen at random, so
# concurrent settlement groups of one hot item do not queue on one row. The board sums the slots.
sale_item_tallies = sa.Table(
    "sale_item_tallies",
    metadata,
    sa.Column("sale_item_id", BigId, primary_key=True),  # sale_items.id (no foreign key: a hot table)
    sa.Column("slot", sa.SmallInteger, primary_key=True),
    sa.Column("paid_orders", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("paid_units", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("closed_orders", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("closed_units", sa.BigInteger, nullable=False, server_default="0"),
)

# Operators' pauses of a running sale (the console's controls): a row per paused event or item, gone when
# resumed. The buy path reads it with the item's terms, so a pause reaches every API process within the
# terms cache's lifetime (2 s). Separate from the event and item rows, which stay as scheduled.
sale_pauses = sa.Table(
    "sale_pauses",
    metadata,
    sa.Column("kind", sa.String(8), primary_key=True),  # 'event' or 'item'
    sa.Column("ref", BigId, primary_key=True),  # sale_events.id or sale_items.id
    sa.Column("paused_at", UTCDateTime(), nullable=False),
    sa.Column("paused_by", BigId, nullable=False),  # users.id of the operator
    sa.CheckConstraint("kind IN ('event', 'item')", name="kind"),
)

# Every operator action of the console, kept in the database and filterable: who did what to which
# subject, when, with the details of the change.
operator_audit = sa.Table(
    "operator_audit",
    metadata,
    _id(),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("operator_id", BigId, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("details", JSONType, nullable=False),
    sa.Index("ix_operator_audit_subject_id", "subject", "id"),
    sa.Index("ix_operator_audit_action_id", "action", "id"),
    sa.Index("ix_operator_audit_operator_id_id", "operator_id", "id"),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    # No foreign keys, as in orders: the lines are written with their order, in its transaction.
    sa.Column("order_id", sa.String(36), primary_key=True),  # orders.id
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("sale_item_id", BigId, nullable=False),  # sale_items.id
    sa.Column("sku_id", BigId, nullable=False),  # skus.id
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_fen", sa.BigInteger, nullable=False),
    sa.Column("total_fen", sa.BigInteger, nullable=False),
)

buyer_item_units = sa.Table(
    "buyer_item_units",
    metadata,
    sa.Column("sale_item_id", BigId, sa.ForeignKey("sale_items.id"), primary_key=True),
    sa.Column("buyer_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    # Units in this buyer's live (pending or paid) orders of the item: the database truth of rule 2.
    sa.Column("units", sa.Integer, nullable=False),
    sa.CheckConstraint("units >= 0", name="units_non_negative"),
)

# --- payments (issue 4) ---------------------------------------------------------------------------

payments = sa.Table(
    "payments",
    metadata,
    _id(),
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("order_no", sa.String(32), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("out_trade_no", sa.String(64), nullable=False, unique=True),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("provider_trade_no", sa.String(64)),
    sa.Column("payer_name", sa.String(100)),
    sa.Column("payer_id_cipher", sa.Text),  # encrypted with the identity key, never stored in clear
    sa.Column("payer_id_masked", sa.String(32)),
    sa.Column("paid_at", UTCDateTime()),
    # When the worker last asked the provider about this pending payment: at most once per interval.
    sa.Column("checked_at", UTCDateTime()),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("order_id", "attempt", name="uq_payments_order_attempt"),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'closed')", name="status"),
    sa.Index("ix_payments_status_created", "status", "created_at"),
)

refunds = sa.Table(
    "refunds",
    metadata,
    _id(),
    sa.Column("payment_id", BigId, sa.ForeignKey("payments.id"), nullable=False, index=True),
    sa.Column("out_request_no", sa.String(64), nullable=False, unique=True),
    sa.Column("provider_trade_no", sa.String(64), nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("refunded_at", UTCDateTime()),
    _created(),
    # A refund a person gave from the console (reason 'staff_refund'): who, and the reason they typed.
    sa.Column("requested_by", BigId),
    sa.Column("note", sa.String(500)),
    sa.UniqueConstraint("payment_id", "provider_trade_no", "reason", name="uq_refunds_trade_reason"),
    sa.CheckConstraint("status IN ('pending', 'succeeded')", name="status"),
    sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    sa.Index("ix_refunds_status_next", "status", "next_attempt_at"),
)

payment_notifications = sa.Table(
    "payment_notifications",
    metadata,
    _id(),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("notify_id", sa.String(128)),
    sa.Column("out_trade_no", sa.String(64), index=True),
    sa.Column("trade_no", sa.String(64)),
    sa.Column("trade_status", sa.String(32)),
    sa.Column("params", JSONType, nullable=False),  # everything received, the payer's ID number masked
    sa.Column("signature_valid", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
)

payment_exchanges = sa.Table(
    "payment_exchanges",
    metadata,
    _id(),
    sa.Column("payment_id", BigId, sa.ForeignKey("payments.id"), index=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("request", JSONType, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response", sa.Text, nullable=False, server_default=""),
    sa.Column("verified", sa.Boolean, nullable=False),
    _created(),
)

# --- cross-border compliance: identities, checkout, the annual limit ------------------------------

identities = sa.Table(
    "identities",
    metadata,
    _id(),
    sa.Column("buyer_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("id_cipher", sa.Text, nullable=False),  # the ID number, encrypted with the identity key
    sa.Column("id_masked", sa.String(32), nullable=False),
    # HMAC-SHA256 of the number under a key derived from the secret key: duplicates and the annual
    # ledger are found by it without the number ever being stored in clear.
    sa.Column("id_hash", sa.String(64), nullable=False),
    _created(),
    sa.UniqueConstraint("buyer_id", "id_hash", name="uq_identities_buyer_hash"),
)

# A buyer's saved consignee addresses: the district by its administrative division code, chosen from
# the lists of flashport/domain/data/divisions (0013_zhcn).
buyer_addresses = sa.Table(
    "buyer_addresses",
    metadata,
    _id(),
    sa.Column("buyer_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("district_code", sa.String(6), nullable=False),
    sa.Column("street", sa.String(200), nullable=False),
    _created(),
)

# What each person (identity hash) has paid for cross-border orders in a calendar year (Asia/Shanghai):
# the database truth of the annual limit, raised by one conditional upsert when a payment settles.
identity_year_totals = sa.Table(
    "identity_year_totals",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("paid_fen", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("paid_fen >= 0", name="paid_non_negative"),
)

# Checkout fills these on a pending order before its payment is created; NULL until then.
_checkout_columns: tuple[sa.Column[Any], ...] = (
    sa.Column("consignee_name", sa.String(100)),
    sa.Column("consignee_phone", sa.String(20)),
    sa.Column("consignee_address", sa.String(200)),
    sa.Column("consignee_district", sa.String(6)),
    sa.Column("buyer_name", sa.String(60)),  # the identity chosen, as it was at checkout
    sa.Column("buyer_id_cipher", sa.Text),
    sa.Column("buyer_id_masked", sa.String(32)),
    sa.Column("buyer_id_hash", sa.String(64)),
    sa.Column("tax_regime", sa.String(16)),
    sa.Column("checked_out_at", UTCDateTime()),
)
_line_tax_columns: tuple[sa.Column[Any], ...] = (
    sa.Column("tax_category", sa.String(32)),
    sa.Column("tax_base_fen", sa.BigInteger),
    sa.Column("tariff_fen", sa.BigInteger),
    sa.Column("consumption_tax_fen", sa.BigInteger),
    sa.Column("vat_fen", sa.BigInteger),
)
for _column in _checkout_columns:
    orders.append_column(_column)
for _column in _line_tax_columns:
    order_lines.append_column(_column)

# --- customs declarations (issue 6) ----------------------------------------------------------------

# The customs account book (电子账册) of a bonded warehouse: declared as emsNo on 1210 inventory lists.
warehouses.append_column(sa.Column("ems_no", sa.String(30)))

declarations = sa.Table(
    "declarations",
    metadata,
    _id(),
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, unique=True),
    sa.Column("order_no", sa.String(32), nullable=False, unique=True),
    sa.Column("trade_mode", sa.String(4), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    # Every re-declaration sends the documents again as "change" under the next version; a step is done
    # for the current version when its column below equals ``version``.
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("order_sent_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("payment_declared_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("waybill_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("inventory_sent_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cop_no", sa.String(20), nullable=False, unique=True),
    sa.Column("payment_declare_no", sa.String(64)),
    sa.Column("logistics_no", sa.String(40)),
    sa.Column("logistics_code", sa.String(18)),
    sa.Column("logistics_name", sa.String(100)),
    sa.Column("bill_no", sa.String(40)),
    sa.Column("traf_no", sa.String(40)),
    sa.Column("voyage_no", sa.String(40)),
    sa.Column("reason_code", sa.String(40)),
    sa.Column("reason", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("refund_after", UTCDateTime()),
    sa.Column("released_at", UTCDateTime()),
    sa.Column("invt_no", sa.String(18), index=True),  # customs' inventory number, given on release
    sa.Column("shipped_at", UTCDateTime()),
    # A refunded declaration's documents are withdrawn (appType 3) and its waybill cancelled; set once done.
    sa.Column("withdrawn_at", UTCDateTime()),
    # Set when it cannot go on without a person (detained, returned, a processing error, sending kept
    # failing): the operator's worklist. Cleared by a re-declaration.
    sa.Column("attention_reason", sa.Text),
    sa.Column("attention_at", UTCDateTime()),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("trade_mode IN ('1210', '9610')", name="trade_mode"),
    sa.CheckConstraint(
        "state IN ('pending', 'declared', 'received', 'matched', 'under_review', 'reviewed', "
        "'inspection', 'detained', 'released', 'shipped', 'rejected', 'refunded', 'returned')",
        name="state",
    ),
    sa.Index("ix_declarations_state_next", "state", "next_attempt_at"),
)

# A message carrying several declarations' documents (up to 100), kept once, exactly as sent.
customs_batches = sa.Table(
    "customs_batches",
    metadata,
    _id(),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("party", sa.String(16), nullable=False),
    sa.Column("guid", sa.String(36), nullable=False, unique=True),  # the message's own guid
    sa.Column("body_cipher", sa.Text, nullable=False),  # sealed like customs_messages.body_cipher
    _created(),
    sa.Column("sent_at", UTCDateTime()),
)

customs_messages = sa.Table(
    "customs_messages",
    metadata,
    _id(),
    sa.Column("declaration_id", BigId, sa.ForeignKey("declarations.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),  # CEB311, CEB411, CEB511, CEB621
    sa.Column("party", sa.String(16), nullable=False),  # who declared it: platform, payment, logistics
    sa.Column("app_type", sa.String(1), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("guid", sa.String(36), nullable=False, unique=True),  # the document head's guid
    # The message exactly as sent, encrypted with the identity key: it carries the buyer's ID number.
    # Null when the document went in a batch: the batch keeps the message (batch_id).
    sa.Column("body_cipher", sa.Text),
    sa.Column("batch_id", BigId, sa.ForeignKey("customs_batches.id"), index=True),
    _created(),
    sa.Column("sent_at", UTCDateTime()),
)

customs_receipts = sa.Table(
    "customs_receipts",
    metadata,
    _id(),
    sa.Column("declaration_id", BigId, sa.ForeignKey("declarations.id"), index=True),
    sa.Column("dxp_id", sa.String(40), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),  # position in the single window's inbox
    sa.Column("part", sa.Integer, nullable=False),  # which return node of that receipt message
    sa.Column("kind", sa.String(8), nullable=False),  # CEB312, CEB622...
    sa.Column("message_guid", sa.String(36), nullable=False),
    sa.Column("return_status", sa.Integer, nullable=False),
    sa.Column("return_info", sa.Text, nullable=False),
    sa.Column("return_time", UTCDateTime(), nullable=False),
    sa.Column("applied", sa.Boolean, nullable=False),
    # Arrived while its declaration was still being sent (customs answers within moments, the worker
    # marks it declared after its last document): applied once the declaration is declared.
    sa.Column("deferred", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("dxp_id", "seq", "part", name="uq_customs_receipts_inbox_seq"),
    sa.Index(
        "ix_customs_receipts_deferred",
        "declaration_id",
        postgresql_where=sa.text("deferred"),
        sqlite_where=sa.text("deferred"),
    ),
)

# The electronic tax bills customs sends the platform as withholding agent (CEB816), with their
# status (CEB818), each linked by its inventory number to the declaration and reconciled against the
# tax the buyer paid on the order.
customs_tax_bills = sa.Table(
    "customs_tax_bills",
    metadata,
    _id(),
    sa.Column("tax_no", sa.String(50), nullable=False, unique=True),
    sa.Column("invt_no", sa.String(18), nullable=False, index=True),
    sa.Column("declaration_id", BigId, sa.ForeignKey("declarations.id"), index=True),
    sa.Column("status", sa.String(1), nullable=False),  # 1 issued, 2 summarised, 3 cancelled
    sa.Column("customs_tax_fen", sa.BigInteger, nullable=False),
    sa.Column("vat_fen", sa.BigInteger, nullable=False),
    sa.Column("consumption_tax_fen", sa.BigInteger, nullable=False),
    sa.Column("billed_fen", sa.BigInteger, nullable=False),
    sa.Column("period", sa.String(7), nullable=False, index=True),  # YYYY-MM of issue, China time
    sa.Column("issued_at", UTCDateTime(), nullable=False),  # the bill's returnTime
    sa.Column("body", sa.Text, nullable=False),  # the CEB816 as received
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

customs_inbox_cursors = sa.Table(
    "customs_inbox_cursors",
    metadata,
    sa.Column("dxp_id", sa.String(40), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # One reader at a time per inbox: two workers reading the same pages would only fight over them.
    sa.Column("leased_by", sa.String(64)),
    sa.Column("leased_until", UTCDateTime()),
)

# --- goods as customs reads them (issue 20, points 4 and 5; migration 0015_declnames) ------------

# The Chinese name customs reads (gname; itemName on the order) and the HS code's second legal unit.
products.append_column(sa.Column("declared_name", sa.String(250), nullable=False))
products.append_column(sa.Column("second_legal_unit", sa.String(3)))
# The declaration elements (brand|specification|composition), the label's net content, the net weight
# of one unit's goods and the weight of its packaging (gross = net + packaging), and the record number
# in the bonded account book (itemRecordNo, 1210 only).
skus.append_column(sa.Column("gmodel", sa.String(255), nullable=False))
skus.append_column(sa.Column("net_content", sa.Numeric(12, 3)))
skus.append_column(sa.Column("net_content_unit", sa.String(8)))
skus.append_column(sa.Column("net_weight_grams", sa.Integer, nullable=False))
skus.append_column(sa.Column("packaging_weight_grams", sa.Integer, nullable=False, server_default="0"))
skus.append_column(sa.Column("item_record_no", sa.String(30)))
# The bonded area operator's customs registration (areaCode on 1210 inventory lists).
warehouses.append_column(sa.Column("area_code", sa.String(18)))
# The real-name person's own phone (buyerTelephone), kept with the identity and copied at checkout.
identities.append_column(sa.Column("phone", sa.String(20)))
orders.append_column(sa.Column("buyer_phone", sa.String(20)))
# The order desk finds orders by phone (adapters/db/desk_repo.py). Partial: a new order has no phone yet,
# so the buy path's inserts never touch these indexes; only checkout's update does.
sa.Index(
    "ix_orders_consignee_phone",
    orders.c.consignee_phone,
    postgresql_where=orders.c.consignee_phone.isnot(None),
    sqlite_where=orders.c.consignee_phone.isnot(None),
)
sa.Index(
    "ix_orders_buyer_phone",
    orders.c.buyer_phone,
    postgresql_where=orders.c.buyer_phone.isnot(None),
    sqlite_where=orders.c.buyer_phone.isnot(None),
)

# Editions of the positive list operators load; the newest replaces the one shipped in the package.
positive_list_editions = sa.Table(
    "positive_list_editions",
    metadata,
    _id(),
    sa.Column("edition", sa.String(40), nullable=False, unique=True),
    sa.Column("source", sa.String(500), nullable=False),
    _created(),
)

positive_list_goods = sa.Table(
    "positive_list_goods",
    metadata,
    sa.Column("edition_id", BigId, sa.ForeignKey("positive_list_editions.id"), primary_key=True),
    sa.Column("hs_code", sa.String(10), primary_key=True),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("legal_unit", sa.String(3), nullable=False),
    sa.Column("second_legal_unit", sa.String(3)),
)

# --- the basket (issue 18) --------------------------------------------------------------------------

# One row per buyer: the room the current basket takes. An add claims room here (same warehouse, goods
# within the single-transaction limit) in a short transaction before the stock engine reserves, so two
# concurrent adds of one buyer cannot both pass. A basket whose hold has passed is empty: the next add
# starts a new one (a new window) by overwriting the row.
baskets = sa.Table(
    "baskets",
    metadata,
    sa.Column("buyer_id", BigId, primary_key=True),  # users.id
    sa.Column("warehouse_id", BigId, nullable=False),  # warehouses.id: every unit ships from it
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("hold_until", UTCDateTime(), nullable=False),  # the first add plus the payment window
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("goods_fen", sa.BigInteger, nullable=False),
    sa.CheckConstraint("units >= 0", name="units_non_negative"),
)

# Each unit in a basket is held by a one-unit pending order made by the stock engine exactly as the buy
# path makes one, with the basket's hold as its deadline: the expiry sweep returns it like any other.
basket_units = sa.Table(
    "basket_units",
    metadata,
    sa.Column("order_id", sa.String(36), primary_key=True),  # orders.id of the holding order
    sa.Column("buyer_id", BigId, nullable=False),
    sa.Column("sale_item_id", BigId, nullable=False),
    sa.Column("unit_price_fen", sa.BigInteger, nullable=False),
    sa.Column("added_at", UTCDateTime(), nullable=False),
    sa.Column("hold_until", UTCDateTime(), nullable=False),
    sa.Column("removed_at", UTCDateTime()),
    sa.Index("ix_basket_units_buyer_hold", "buyer_id", "hold_until"),
)

# A basket checked out: the buyer's Idempotency-Key for it, and the order it made. Apart from the buy
# path's keys (orders.idempotency_key), which the Redis stock engine also holds: a checkout's key is the
# database's alone, so it must never be one a purchase could meet in a group-committed batch.
basket_checkouts = sa.Table(
    "basket_checkouts",
    metadata,
    sa.Column("buyer_id", BigId, primary_key=True),  # users.id
    sa.Column("idempotency_key", sa.String(128), primary_key=True),
    sa.Column("order_id", sa.String(36), nullable=False),  # orders.id of the checked-out order
    _created(),
)
