"""The simulator's own record, in its own SQLite file: documents on file (with their history),
declarations, the buyers' yearly totals, and the receipts waiting in each DXP inbox.

A stand-in for customs' systems, not part of the platform's schema: tables are made with
``create_all`` at start, and a record written by an older simulator is brought up to date by
:mod:`.migration` first (``meta.schema_version``).

No ID number is kept in clear: ``documents.message`` is sealed (:mod:`.sealing`) and yearly totals
are keyed by an HMAC of the ID number under the simulator's secret.
"""

from __future__ import annotations

import sqlalchemy as sa

from flashport.sandbox_support.sqlite import UtcDateTime

metadata = sa.MetaData()

CURRENT = "current"  # the document of its kind on file for the order
SUPERSEDED = "superseded"  # replaced by a change or removed by a delete; kept as history
DELETION = "deletion"  # the delete message itself

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(6), nullable=False),  # CEB311 / CEB411 / CEB511 / CEB621
    sa.Column("order_no", sa.String(60), nullable=False),
    sa.Column("ebp_code", sa.String(18), nullable=False),  # "" for payment and waybill: they join by orderNo
    sa.Column("guid", sa.String(36), nullable=False),  # the head's guid, echoed by receipts
    sa.Column("app_type", sa.String(1), nullable=False),
    sa.Column("sender", sa.String(64), nullable=False),  # BaseTransfer/dxpId
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),  # as received, sealed; read again for each match
    sa.Column("received_at", UtcDateTime, nullable=False),
    # What must be unique across orders: waybill number, payment transaction id, copNo (and whose).
    sa.Column("owner_code", sa.String(18)),
    sa.Column("unique_no", sa.String(64)),
    sa.Column("message_digest", sa.String(64)),  # HMAC of the bytes as received: spots redeliveries
    sa.Index("documents_on_file", "order_no", "kind", "status"),
    sa.Index("documents_by_guid", "guid"),
    sa.Index("documents_by_unique_no", "kind", "owner_code", "unique_no"),
)

declarations = sa.Table(
    "declarations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_no", sa.String(60), nullable=False),
    sa.Column("ebp_code", sa.String(18), nullable=False),
    sa.Column("state", sa.String(10), nullable=False, index=True),
    sa.Column("reason_code", sa.String(32)),
    sa.Column("reason_text", sa.String(1000)),
    sa.Column("pre_no", sa.String(18)),  # customs' pre-entry number, given when the list is taken
    sa.Column("invt_no", sa.String(18)),  # the inventory number, given on release
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("order_no", "ebp_code"),
)

year_totals = sa.Table(
    "year_totals",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # HMAC-SHA256 of the ID number (secret-keyed)
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("released_fen", sa.BigInteger, nullable=False),
)

inbox = sa.Table(
    "inbox",
    metadata,
    # AUTOINCREMENT: a sequence number is never reused, so a client's cursor never skips a receipt.
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dxp_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(6), nullable=False),  # CEB312 / CEB412 / CEB512 / CEB622
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("order_no", sa.String(60)),
    sa.Column("return_status", sa.Integer, nullable=False),
    sa.Column("return_info", sa.String(1000), nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=False),
    sa.Index("inbox_by_reader", "dxp_id", "seq"),
    sqlite_autoincrement=True,
)

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("agent_code", sa.String(18), nullable=False),  # the enterprise's customs code
    sa.Column("role", sa.String(16), nullable=False),  # platform / payment / carrier / warehouse
    sa.Column("fingerprint", sa.String(64), nullable=False),  # SHA-256 of the DER certificate
    sa.Column("certificate", sa.Text, nullable=False),  # PEM
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("agent_code", "role", "fingerprint"),
)

tax_bills = sa.Table(
    "tax_bills",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tax_no", sa.String(50), nullable=False, unique=True),
    sa.Column("invt_no", sa.String(18), nullable=False),
    sa.Column("order_no", sa.String(60), nullable=False),
    sa.Column("ebp_code", sa.String(18), nullable=False),
    sa.Column("dxp_id", sa.String(64), nullable=False),  # the withholding agent's inbox
    sa.Column("status", sa.String(1), nullable=False),  # 1 issued, 2 summarised for payment, 3 cancelled
    sa.Column("total_fen", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),  # the CEB816 as issued
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
)

# CEB513: parcels their carrier declared signed for, once each (a resent one is answered the same).
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("logistics_code", sa.String(18), nullable=False),
    sa.Column("logistics_no", sa.String(60), nullable=False),
    sa.Column("order_no", sa.String(60), nullable=False),
    sa.Column("logistics_time", sa.String(14), nullable=False),  # as declared, China time
    sa.Column("guid", sa.String(36), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("logistics_code", "logistics_no"),
)

# CEB625: released goods whose return customs took, once per inventory list (its buyer's yearly total
# was given back then).
returns = sa.Table(
    "returns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_no", sa.String(60), nullable=False),
    sa.Column("ebp_code", sa.String(18), nullable=False),
    sa.Column("invt_no", sa.String(18), nullable=False),
    sa.Column("cop_no", sa.String(20)),
    sa.Column("guid", sa.String(36), nullable=False),  # the return head's guid: a resend is answered alike
    sa.Column("returned_fen", sa.BigInteger, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("order_no", "ebp_code"),
)

# CEB623: accepted inventory lists withdrawn before release (the buyer's yearly total was given back
# then); a resent application (the same head guid) is answered alike.
withdrawals = sa.Table(
    "withdrawals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_no", sa.String(60), nullable=False),
    sa.Column("ebp_code", sa.String(18), nullable=False),
    sa.Column("invt_no", sa.String(18), nullable=False),
    sa.Column("cop_no", sa.String(20)),
    sa.Column("guid", sa.String(36), nullable=False),
    sa.Column("withdrawn_fen", sa.BigInteger, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index("withdrawals_by_order", "order_no", "ebp_code"),
)
