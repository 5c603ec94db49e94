"""The sandbox's own record: trades and the buyers they were opened for, refunds, notification
deliveries and customs declarations, in its own SQLite file.

This is a stand-in for the provider's systems, not part of the platform's schema, so its tables are
made with ``create_all`` at start rather than by migrations.
"""

from __future__ import annotations

import sqlalchemy as sa

from flashport.sandbox_support.sqlite import UtcDateTime

metadata = sa.MetaData()

trades = sa.Table(
    "trades",
    metadata,
    sa.Column("trade_no", sa.String(32), primary_key=True),
    sa.Column("app_id", sa.String(32), nullable=False),
    sa.Column("out_trade_no", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(256), nullable=False),
    sa.Column("total_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("notify_url", sa.Text),
    sa.Column("return_url", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("paid_at", UtcDateTime),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("payer_name", sa.String(64)),
    sa.Column("payer_cert_no", sa.String(18)),
    sa.Column("buyer_id", sa.String(16)),
    sa.UniqueConstraint("app_id", "out_trade_no"),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trade_no", sa.ForeignKey("trades.trade_no"), nullable=False),
    sa.Column("out_request_no", sa.String(64), nullable=False),
    sa.Column("refund_fen", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(256)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("trade_no", "out_request_no"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Not unique: a resent notification keeps its notify_id, as Alipay's do.
    sa.Column("notify_id", sa.String(64), nullable=False, index=True),
    sa.Column("trade_no", sa.ForeignKey("trades.trade_no"), nullable=False, index=True),
    sa.Column("notify_url", sa.Text, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),  # the signed form, sent as is on every attempt
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UtcDateTime, index=True),  # None: delivered, or the schedule ran out
    sa.Column("delivered_at", UtcDateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_body", sa.Text),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.ForeignKey("deliveries.id"), nullable=False, index=True),
    sa.Column("attempted_at", UtcDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),  # None: no HTTP answer at all
    sa.Column("body", sa.Text),  # the answer's first characters, or the connection error
    sa.Column("succeeded", sa.Boolean, nullable=False),
)

customs_declarations = sa.Table(
    "customs_declarations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trade_no", sa.ForeignKey("trades.trade_no"), nullable=False, index=True),
    sa.Column("out_request_no", sa.String(64), nullable=False),
    sa.Column("declare_no", sa.String(32), nullable=False, unique=True),  # alipay_declare_no
    sa.Column("order_no", sa.String(60), nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),  # what the merchant asked to declare
    sa.Column("app_type", sa.String(1), nullable=False),
    sa.Column("identity_check", sa.String(1)),  # T / F; None: the merchant gave no buyer
    sa.Column("message", sa.LargeBinary, nullable=False),  # the CEB411 exactly as sent
    sa.Column("sent_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("trade_no", "out_request_no"),
)

# The buyer the merchant named when it opened the trade (``ext_user_info`` with ``need_check_info`` =
# ``T``): only this person may pay it. A table of its own, so a trade record made before it existed
# opens unchanged (``create_all`` adds tables, never columns).
specified_buyers = sa.Table(
    "specified_buyers",
    metadata,
    sa.Column("trade_no", sa.ForeignKey("trades.trade_no"), primary_key=True),
    sa.Column("name", sa.String(64)),  # None: not checked
    sa.Column("cert_no", sa.String(18)),
)

# Sandbox-only fault injection: what the next payment vouchers of a trade get wrong (payer / amount).
customs_faults = sa.Table(
    "customs_faults",
    metadata,
    sa.Column("trade_no", sa.ForeignKey("trades.trade_no"), primary_key=True),
    sa.Column("fault", sa.String(16), nullable=False),
)

# The payment company as a partner of the platform (see refund_feed.py): where it stopped in its
# partner feed, and the refunds it was asked for there but could not make, with why (the refund query
# answers with that reason). A refusal is keyed by the request number alone: its trade may be unknown.
feed_cursors = sa.Table(
    "feed_cursors",
    metadata,
    sa.Column("feed", sa.String(100), primary_key=True),  # whose feed: the platform's address
    sa.Column("cursor", sa.String(200), nullable=False),  # next_cursor of the last page taken
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

refund_refusals = sa.Table(
    "refund_refusals",
    metadata,
    sa.Column("out_request_no", sa.String(64), primary_key=True),
    sa.Column("trade_no", sa.String(64), nullable=False),  # as the platform named it; maybe unknown here
    sa.Column("sub_code", sa.String(64), nullable=False),
    sa.Column("sub_msg", sa.String(256), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
