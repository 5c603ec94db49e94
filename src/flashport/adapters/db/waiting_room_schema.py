"""Tables of the waiting room (issue 19, point 1; migration 0022_waitroom): the rooms an operator put in
front of hot sale items, and the buyers' places in them. On the same metadata as
:mod:`flashport.adapters.db.schema`; :mod:`flashport.adapters.db.all_tables` gathers them."""

from __future__ import annotations

import sqlalchemy as sa

from flashport.adapters.db.schema import BigId, UTCDateTime, metadata

# One row per hot item. ``admitted``/``advanced_at``/``rate`` are the admission cursor
# (domain/waiting_room.py ``Cursor``), ``places`` the places dealt so far; ``shuffled_at`` is set once,
# when the pre-queue got its places. ``sold_mark``/``sold_mark_at`` hold the stock engine's count of
# units left at the last rate adjustment (automatic rate only).
waiting_rooms = sa.Table(
    "waiting_rooms",
    metadata,
    sa.Column("item_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("opens_before_seconds", sa.Integer, nullable=False),
    sa.Column("admit_per_second", sa.Float),  # null: derived from measured sales
    sa.Column("token_seconds", sa.Integer, nullable=False),
    sa.Column("places", sa.Integer, nullable=False, server_default="0"),
    sa.Column("admitted", sa.Float, nullable=False, server_default="0"),
    sa.Column("rate", sa.Float, nullable=False, server_default="0"),
    sa.Column("advanced_at", UTCDateTime()),
    sa.Column("shuffled_at", UTCDateTime()),
    sa.Column("sold_mark", sa.Integer),
    sa.Column("sold_mark_at", UTCDateTime()),
    sa.Column("challenged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("passed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# A buyer's one place in a room; ``id`` is the order of arrival, ``place`` null until the shuffle.
waiting_room_places = sa.Table(
    "waiting_room_places",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("item_id", BigId, nullable=False),
    sa.Column("buyer_id", BigId, nullable=False),
    sa.Column("address", sa.String(64)),
    sa.Column("place", sa.Integer),
    sa.Column("joined_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("item_id", "buyer_id", name="uq_waiting_room_places_item_id"),
    sa.Index("ix_waiting_room_places_address", "item_id", "address", "joined_at"),
)
