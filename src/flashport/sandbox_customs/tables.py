"""The simulator's own record, in its own SQLite file: documents on file (with their history),
declarations, the buyers' yearly totals, and the receipts waiting in each DXP inbox.

A stand-in for customs' systems, not part of the platform's schema: tables are made with
``create_all`` at start, not by migrations.
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
    sa.Column("message", sa.LargeBinary, nullable=False),  # as received; read again for each match
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index("documents_on_file", "order_no", "kind", "status"),
    sa.Index("documents_by_guid", "guid"),
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
    sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 of the ID number, never the number
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
