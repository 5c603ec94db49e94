"""Tables of parcel tracking (issue 18): each shipment's milestones. They hang on the same metadata
as :mod:`flashport.adapters.db.schema`; :mod:`flashport.adapters.db.all_tables` gathers them."""

from __future__ import annotations

import sqlalchemy as sa

from flashport.adapters.db.schema import BigId, UTCDateTime, metadata

MILESTONES = "'declared', 'released', 'picked', 'handed_over', 'in_transit', 'delivered'"

shipment_milestones = sa.Table(
    "shipment_milestones",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(36), nullable=False),
    sa.Column("order_no", sa.String(32), nullable=False),
    sa.Column("milestone", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),  # when it happened, as the reporter says
    sa.Column("source", sa.String(16), nullable=False),  # platform or carrier
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Once per shipment: a repeated report is no change (the insert does nothing).
    sa.UniqueConstraint("order_id", "milestone", name="uq_shipment_milestones_order_id"),
    sa.CheckConstraint(f"milestone IN ({MILESTONES})", name="milestone"),
)
