"""The sandbox carrier's own record, in its own SQLite file: waybills, their tracking events, the
CEB511 messages declared for them (sent or waiting to be), and the faults queued for the next one.

A stand-in for the carrier's systems, not part of the platform's schema: the tables are made with
``create_all`` at start rather than by migrations.
"""

from __future__ import annotations

import sqlalchemy as sa

# The same aware-UTC column type as the payment sandbox: one definition of how SQLite keeps times.
from flashport.sandbox_support.sqlite import UtcDateTime

metadata = sa.MetaData()

waybills = sa.Table(
    "waybills",
    metadata,
    sa.Column("logistics_no", sa.String(60), primary_key=True),
    sa.Column("order_no", sa.String(60), nullable=False, unique=True),
    sa.Column("platform_code", sa.String(18), nullable=False),
    sa.Column("platform_name", sa.String(100), nullable=False),
    sa.Column("trade_mode", sa.String(4), nullable=False),
    sa.Column("consignee_name", sa.String(100), nullable=False),
    sa.Column("consignee_telephone", sa.String(50), nullable=False),
    sa.Column("consignee_address", sa.String(200), nullable=False),
    sa.Column("weight_kg", sa.String(24), nullable=False),  # Decimal as text: SQLite has no exact decimal
    sa.Column("goods_info", sa.String(200)),
    sa.Column("freight_fen", sa.BigInteger, nullable=False),
    sa.Column("insured_fee_fen", sa.BigInteger, nullable=False),
    sa.Column("traf_no", sa.String(100)),  # direct import (9610) only: flight, voyage, master air waybill
    sa.Column("voyage_no", sa.String(32)),
    sa.Column("bill_no", sa.String(37)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("declared_at", UtcDateTime),  # when customs last took a CEB511 for it
)

tracking_events = sa.Table(
    "tracking_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("logistics_no", sa.ForeignKey("waybills.logistics_no"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("description", sa.String(200), nullable=False),
)

declarations = sa.Table(
    "declarations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # also the sending order
    sa.Column("logistics_no", sa.ForeignKey("waybills.logistics_no"), nullable=False, index=True),
    sa.Column("app_type", sa.String(1), nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),  # the CEB511, sent as is on every attempt
    sa.Column("state", sa.String(8), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_in", sa.String(36)),  # guid of the CEB511 it went in (with other waybills' maybe)
)

faults = sa.Table(
    "faults",
    metadata,
    sa.Column("order_no", sa.String(60), primary_key=True),
    sa.Column("fault", sa.String(16), nullable=False),
)

feed_cursors = sa.Table(
    "feed_cursors",
    metadata,
    sa.Column("feed", sa.String(100), primary_key=True),  # whose feed: the platform's address
    sa.Column("cursor", sa.String(200), nullable=False),  # next_cursor of the last page taken over
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# What the carrier tells others about a parcel's journey, queued in the transaction of the scan and
# sent after it (retried until taken): each milestone to the platform, the delivery to customs (CEB513).
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # also the sending order
    sa.Column("logistics_no", sa.ForeignKey("waybills.logistics_no"), nullable=False, index=True),
    sa.Column("target", sa.String(8), nullable=False),  # platform or customs
    sa.Column("milestone", sa.String(16), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("message", sa.LargeBinary),  # the CEB513, for customs
    sa.Column("state", sa.String(8), nullable=False, index=True),  # pending, sent, refused
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", UtcDateTime),
)
