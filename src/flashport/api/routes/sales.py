"""Flash-sale events and their sale items: public browsing, and the operators' commands and views.

Each operator command runs with ``ctx.audited``: its entry in the audit log is written in the
transaction of the change (services/context.py), as the console's calendar does."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, BeforeValidator, Field

from flashport.api.deps import EventStaff, duty_doc, get_ctx, public_doc
from flashport.api.inputs import Input
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal
from flashport.domain.money import fen_to_decimal
from flashport.domain.sale_entities import EventView, ItemOfEvent, SaleItemView
from flashport.domain.sales import EventState, EventStatus, Fulfilment, Listing
from flashport.services.context import Context
from flashport.services.sales import events
from flashport.services.sales import items as events_items
from flashport.services.sales import queries as events_queries

router = APIRouter(prefix="/api/v1", tags=["events"])

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="event id")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="sale item id")]
AwareTime = Annotated[datetime, Field(description="ISO 8601 with a UTC offset; naive times are refused")]
PREHEAT = (
    "from when buyers see the scheduled sale (its items, prices and a countdown, no buy button); before "
    "the start (422 `preheat_not_before_start`); null: shown as soon as it is scheduled"
)
# Services speak integer fen; the API shows yuan with two decimals.
Money = Annotated[
    Decimal, BeforeValidator(fen_to_decimal), Field(description="CNY with two decimals", examples=["129.00"])
]
OPERATOR_ERRORS = duty_doc(Duty.EVENTS, errors=(404, 409, 422))


class EventIn(Input):
    title: str = Field(min_length=1, max_length=200, examples=["Alpine dairy week"])
    channel: str = Field(min_length=1, max_length=64, examples=["global-flash-sale"])
    description: str = Field(default="", max_length=5000)
    banner_url: str | None = Field(default=None, max_length=500)
    starts_at: AwareTime
    ends_at: AwareTime
    preheat_at: AwareTime | None = Field(default=None, description=PREHEAT)


class EventPatch(Input):
    """Only the fields sent change; send ``banner_url: null`` to remove the banner, ``preheat_at: null``
    to show the sale as soon as it is scheduled."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    channel: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=5000)
    banner_url: str | None = Field(default=None, max_length=500)
    starts_at: AwareTime | None = None
    ends_at: AwareTime | None = None
    preheat_at: AwareTime | None = Field(default=None, description=PREHEAT)


class ItemIn(Input):
    sku_id: Id
    warehouse_id: Id
    sale_price: Decimal = Field(description="yuan, at most two decimals", examples=["129.00"])
    quantity: int = Field(gt=0, examples=[500])
    per_buyer_limit: int = Field(gt=0, examples=[2])


class ItemPatch(Input):
    sale_price: Decimal | None = Field(default=None, description="yuan, at most two decimals")
    quantity: int | None = Field(default=None, gt=0)
    per_buyer_limit: int | None = Field(default=None, gt=0)


class EventSummary(BaseModel):
    id: int
    title: str
    channel: str
    banner_url: str | None
    starts_at: datetime
    ends_at: datetime
    preheat_at: datetime | None = Field(description=PREHEAT)
    status: EventStatus
    item_count: int
    max_discount_percent: int | None = Field(description="the deepest discount of its items, percent off")


class EventOut(EventSummary):
    description: str


class AdminEventSummary(EventOut):
    state: EventState
    created_at: datetime
    updated_at: datetime


class SaleItemOut(BaseModel):
    id: int
    event_id: int
    sku_id: int
    title: str = Field(description="the SKU's title")
    product_title: str
    brand: str
    brand_country: str
    images: list[str]
    original_price: Money = Field(validation_alias="original_price_fen")
    sale_price: Money = Field(validation_alias="sale_price_fen")
    discount_percent: int = Field(description="percent off the original price, rounded down")
    quantity: int
    remaining: int
    per_buyer_limit: int
    sold_out: bool
    fulfilment: Fulfilment = Field(description="bonded import or direct purchase import")


class SaleItemDetail(SaleItemOut):
    event_status: EventStatus


class AdminSaleItemOut(SaleItemOut):
    warehouse_id: int
    reserved: int
    sold: int


class AdminSaleItemDetail(AdminSaleItemOut):
    event_status: EventStatus


class AdminEventOut(AdminEventSummary):
    items: list[AdminSaleItemOut]


# --- public ---------------------------------------------------------------------------------------


@router.get(
    "/events", response_model=list[EventSummary], summary="Live and upcoming events", **public_doc(422)
)
async def list_events(
    status: Listing | None = None, channel: str | None = None, ctx: Context = Depends(get_ctx)
) -> list[EventView]:
    return await events_queries.list_public_events(ctx, status=status, channel=channel)


@router.get("/events/{event_id}", response_model=EventOut, summary="An announced event", **public_doc(404))
async def get_event(event_id: EventId, ctx: Context = Depends(get_ctx)) -> EventView:
    return await events_queries.get_public_event(ctx, event_id)


@router.get(
    "/events/{event_id}/items",
    response_model=list[SaleItemOut],
    summary="The items of an announced event, with units remaining",
    **public_doc(404),
)
async def list_items(event_id: EventId, ctx: Context = Depends(get_ctx)) -> tuple[SaleItemView, ...]:
    return await events_queries.list_public_items(ctx, event_id)


@router.get(
    "/sale-items/{item_id}", response_model=SaleItemDetail, summary="One sale item", **public_doc(404)
)
async def get_item(item_id: ItemId, ctx: Context = Depends(get_ctx)) -> ItemOfEvent:
    return await events_queries.get_public_item(ctx, item_id)


# --- operators: events ----------------------------------------------------------------------------


@router.post(
    "/events", status_code=201, response_model=AdminEventOut, summary="Draft an event", **OPERATOR_ERRORS
)
async def create_event(
    body: EventIn, who: Principal = EventStaff, ctx: Context = Depends(get_ctx)
) -> EventView:
    return await events.create_event(ctx.audited(who.user_id, "event.created"), **body.model_dump())


@router.patch(
    "/events/{event_id}", response_model=AdminEventOut, summary="Change an event", **OPERATOR_ERRORS
)
async def update_event(
    event_id: EventId, body: EventPatch, who: Principal = EventStaff, ctx: Context = Depends(get_ctx)
) -> EventView:
    changes = body.model_dump(exclude_unset=True)
    audited = ctx.audited(who.user_id, "event.updated", details={"fields": sorted(changes)})
    return await events.update_event(audited, event_id, changes)


@router.post(
    "/events/{event_id}/schedule",
    response_model=AdminEventOut,
    summary="Announce a draft event",
    **OPERATOR_ERRORS,
)
async def schedule_event(
    event_id: EventId, who: Principal = EventStaff, ctx: Context = Depends(get_ctx)
) -> EventView:
    return await events.schedule_event(ctx.audited(who.user_id, "event.scheduled"), event_id)


@router.post(
    "/events/{event_id}/cancel",
    response_model=AdminEventOut,
    summary="Cancel an event and return its unsold stock",
    **OPERATOR_ERRORS,
)
async def cancel_event(
    event_id: EventId, who: Principal = EventStaff, ctx: Context = Depends(get_ctx)
) -> EventView:
    return await events.cancel_event(ctx.audited(who.user_id, "event.cancelled"), event_id)


@router.get(
    "/admin/events",
    response_model=list[AdminEventSummary],
    summary="Every event, in any state",
    **duty_doc(Duty.EVENTS, errors=(422,)),
)
async def list_admin_events(
    status: EventStatus | None = None,
    channel: str | None = None,
    _: Principal = EventStaff,
    ctx: Context = Depends(get_ctx),
) -> list[EventView]:
    return await events_queries.list_admin_events(ctx, status=status, channel=channel)


@router.get(
    "/admin/events/{event_id}",
    response_model=AdminEventOut,
    summary="An event with its items, reserved and sold units",
    **duty_doc(Duty.EVENTS, errors=(404, 422)),
)
async def get_admin_event(
    event_id: EventId, _: Principal = EventStaff, ctx: Context = Depends(get_ctx)
) -> EventView:
    return await events_queries.get_admin_event(ctx, event_id)


# --- operators: sale items ------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/items",
    status_code=201,
    response_model=AdminSaleItemDetail,
    summary="Put an SKU on sale, drawing its quantity from one warehouse",
    description="From a bonded warehouse (1210) the goods must be declarable: the warehouse needs its "
    "area code (`bonded_area_code_missing`, 422) and the SKU its record number in the bonded account "
    "book (`item_record_no_missing`, 422).",
    **OPERATOR_ERRORS,
)
async def add_item(
    event_id: EventId, body: ItemIn, who: Principal = EventStaff, ctx: Context = Depends(get_ctx)
) -> ItemOfEvent:
    audited = ctx.audited(who.user_id, "sale_item.added")
    return await events_items.add_item(audited, event_id, **body.model_dump())


@router.patch(
    "/events/{event_id}/items/{item_id}",
    response_model=AdminSaleItemDetail,
    summary="Change an item's price, quantity or per-buyer limit",
    **OPERATOR_ERRORS,
)
async def change_item(
    event_id: EventId,
    item_id: ItemId,
    body: ItemPatch,
    who: Principal = EventStaff,
    ctx: Context = Depends(get_ctx),
) -> ItemOfEvent:
    audited = ctx.audited(who.user_id, "sale_item.changed")
    return await events_items.change_item(audited, event_id, item_id, **body.model_dump())


@router.delete(
    "/events/{event_id}/items/{item_id}",
    status_code=204,
    response_class=Response,
    summary="Remove an item and return its stock",
    **OPERATOR_ERRORS,
)
async def remove_item(
    event_id: EventId, item_id: ItemId, who: Principal = EventStaff, ctx: Context = Depends(get_ctx)
) -> None:
    await events_items.remove_item(ctx.audited(who.user_id, "sale_item.removed"), event_id, item_id)
