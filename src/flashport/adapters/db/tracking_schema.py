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

AFTERSALE_STATES = "'requested', 'approved', 'declared', 'refunded', 'refused'"

# After-sales: a buyer's return of a delivered parcel, from request to refund (one per order).
aftersales = sa.Table(
    "aftersales",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(36), nullable=False),
    sa.Column("order_no", sa.String(32), nullable=False),
    sa.Column("buyer_id", BigId, nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),  # the buyer's words, declared as the return's reason
    sa.Column("cop_no", sa.String(20), nullable=False),  # the return's own number (CEB625 copNo)
    sa.Column("message_guid", sa.String(36)),  # head guid of the CEB625 sent, echoed by the CEB626
    sa.Column("customs_status", sa.Integer),
    sa.Column("customs_info", sa.Text),
    sa.Column("refund_id", BigId),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("approved_by", BigId),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("approved_at", UTCDateTime()),
    sa.Column("declared_at", UTCDateTime()),
    sa.Column("answered_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("order_id", name="uq_aftersales_order_id"),
    sa.UniqueConstraint("cop_no", name="uq_aftersales_cop_no"),
    sa.CheckConstraint(f"state IN ({AFTERSALE_STATES})", name="state"),
    sa.Index("ix_aftersales_state_next", "state", "next_attempt_at"),
)

CANCELLATION_STATES = "'requested', 'declared', 'withdrawn', 'refused'"

# A paid order called off after customs accepted its inventory list: the withdrawal (CEB623) asked
# for, sent and answered (CEB624); the refund follows customs' acceptance (one per order; a refused
# one may be asked for again while the list is still unreleased).
cancellations = sa.Table(
    "cancellations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(36), nullable=False),
    sa.Column("order_no", sa.String(32), nullable=False),
    sa.Column("buyer_id", BigId, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("cop_no", sa.String(20), nullable=False),  # the withdrawal's own number (CEB623 copNo)
    sa.Column("invt_no", sa.String(18)),  # customs' inventory number the CEB623 names
    sa.Column("message_guid", sa.String(36)),  # head guid of the CEB623 sent, echoed by the CEB624
    sa.Column("customs_status", sa.Integer),
    sa.Column("customs_info", sa.Text),  # customs' words, or the platform's when release came first
    sa.Column("refund_id", BigId),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("declared_at", UTCDateTime()),
    sa.Column("answered_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("order_id", name="uq_cancellations_order_id"),
    sa.UniqueConstraint("cop_no", name="uq_cancellations_cop_no"),
    sa.CheckConstraint(f"state IN ({CANCELLATION_STATES})", name="state"),
    sa.Index("ix_cancellations_state_next", "state", "next_attempt_at"),
)
