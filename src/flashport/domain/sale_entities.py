"""Sale events and sale items as the sale services return them, each a frozen dataclass.

:class:`SaleEvent` and :class:`SaleItem` are what is stored (an item with the facts of its SKU, product,
brand and warehouse that every view shows); :class:`EventView` and :class:`SaleItemView` add what follows
from the clock and the stock engine: the derived status and the units remaining. Prices are integer
fen, times timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from flashport.domain.catalog import WarehouseKind
from flashport.domain.errors import NotFound
from flashport.domain.sales import (
    EventState,
    EventStatus,
    Fulfilment,
    all_sold_out,
    derive_status,
    discount_percent,
    fulfilment_for,
)


@dataclass(frozen=True)
class SaleEvent:
    id: int
    title: str
    channel: str
    description: str
    banner_url: str | None
    starts_at: datetime
    ends_at: datetime
    state: EventState
    created_at: datetime
    updated_at: datetime
    # From when buyers see the announced sale; None: as soon as it is scheduled (domain/sales.py
    # shown_to_buyers).
    preheat_at: datetime | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class SaleItem:
    """A sale item as stored, with its SKU's title and price, its product's title and images, its brand
    and the kind of warehouse its units wait in."""

    id: int
    event_id: int
    sku_id: int
    warehouse_id: int
    sale_price_fen: int
    quantity: int
    per_buyer_limit: int
    reserved: int  # the row counters; the stock engine's live counts are in SaleItemView.remaining
    sold: int
    title: str  # the SKU's
    original_price_fen: int
    product_title: str
    images: tuple[str, ...]
    brand: str
    brand_country: str
    warehouse_kind: WarehouseKind

    @property
    def committed(self) -> int:
        """Units held by pending or paid orders, by the row counters."""
        return self.reserved + self.sold


@dataclass(frozen=True)
class SaleItemView(SaleItem):
    """A sale item with the units the stock engine still has for sale."""

    remaining: int

    @classmethod
    def of(cls, item: SaleItem, remaining: int) -> SaleItemView:
        return cls(**_fields_of(item, SaleItem), remaining=remaining)

    @property
    def sold_out(self) -> bool:
        return self.remaining == 0

    @property
    def discount_percent(self) -> int:
        """Percent off the original price, rounded down."""
        return discount_percent(self.original_price_fen, self.sale_price_fen)

    @property
    def fulfilment(self) -> Fulfilment:
        return fulfilment_for(self.warehouse_kind)


@dataclass(frozen=True)
class ItemOfEvent(SaleItemView):
    """One item of a described event, with the event's status beside it."""

    event_status: EventStatus


@dataclass(frozen=True)
class EventView(SaleEvent):
    """An event with its items and its status derived at one instant."""

    status: EventStatus
    items: tuple[SaleItemView, ...]

    @classmethod
    def of(cls, event: SaleEvent, items: Sequence[SaleItemView], now: datetime) -> EventView:
        status = derive_status(
            event.state, event.starts_at, event.ends_at, now, all_sold_out([i.remaining for i in items])
        )
        return cls(**_fields_of(event, SaleEvent), status=status, items=tuple(items))

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def max_discount_percent(self) -> int | None:
        """The deepest discount of its items, or None for an event without items."""
        return max((item.discount_percent for item in self.items), default=None)

    def item(self, item_id: int) -> ItemOfEvent:
        """One of its items, with the event's status; NotFound when the item is not in the event."""
        for item in self.items:
            if item.id == item_id:
                return ItemOfEvent(**_fields_of(item, SaleItemView), event_status=self.status)
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")


@dataclass(frozen=True)
class ItemFacts:
    """What a shop window shows of an item beyond its sale terms: the product's description, country
    of origin and what of it cannot be returned, who supplies it, and the SKU's spec."""

    description: str
    origin: str
    spec: str
    # What Chinese readers see instead of the product's title and description and the brand's name,
    # where the catalog has them ("" otherwise).
    title_zh: str = ""
    description_zh: str = ""
    brand_zh: str = ""
    return_exclusions: str = ""  # "" when nothing of it is excluded from returns
    return_exclusions_zh: str = ""
    supplier: str = ""  # the supplier's name


def _fields_of(value: object, cls: type) -> dict[str, Any]:
    """The values of ``cls``'s fields on ``value`` (an instance of ``cls`` or of a subclass), shallow."""
    return {f.name: getattr(value, f.name) for f in fields(cls)}
