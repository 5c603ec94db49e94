"""The operator console's API: the live sale board as JSON (what the board page polls, and what a wall
screen or a script may read; built at most once a second per process however many ask), the controls
over a running sale (pause, resume, top up, end early) and the audit log of operator actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from flashport.api.deps import AuditStaff, LiveSaleStaff, duty_doc, get_ctx
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal
from flashport.domain.sales import EventStatus
from flashport.services.context import Context
from flashport.services.sales import controls
from flashport.services.sales.board import Board, SaleBoard

router = APIRouter(prefix="/api/v1", tags=["console"])


class ItemFiguresOut(BaseModel):
    item_id: int
    title: str
    brand: str
    quantity: int = Field(description="units allotted to the sale")
    left: int = Field(description="units still for sale (the stock engine's count)")
    sold: int = Field(description="units held by pending or paid orders")
    reserved: int = Field(description="of the sold units, those waiting for payment")
    paid: int = Field(description="units of paid orders")
    closed: int = Field(description="units of orders that expired or were cancelled unpaid; they went back")
    paid_orders: int
    closed_orders: int
    units_per_second: float = Field(description="units bought a second over the last 10 s")
    seconds_to_sell_out: float | None = Field(
        description="at the net rate of the last 10 s; null: not falling"
    )
    conversion: float | None = Field(description="paid / (paid + closed) orders; null before any is decided")
    paused: bool = Field(description="the item itself is paused (the event may be paused as a whole)")


class EventFiguresOut(BaseModel):
    event_id: int
    title: str
    channel: str
    status: EventStatus = Field(description="live, or ended (sold out) while its window still runs")
    paused: bool
    starts_at: datetime
    ends_at: datetime
    items: list[ItemFiguresOut]


class BoardOut(BaseModel):
    at: datetime = Field(description="when the figures were read")
    fresh_for: float = Field(description="seconds a board is reused before the next read")
    events: list[EventFiguresOut]


def sale_board(request: Request) -> SaleBoard:
    board: SaleBoard = request.app.state.board
    return board


@router.get(
    "/admin/board",
    response_model=BoardOut,
    summary="The live sale board: every running event's items, with rates",
    **duty_doc(Duty.LIVE_SALE),
)
async def get_board(
    _: Principal = LiveSaleStaff,
    ctx: Context = Depends(get_ctx),
    board: SaleBoard = Depends(sale_board),
) -> Board:
    return await board.snapshot(ctx)


# --- controls over a running sale --------------------------------------------------------------------

MAX_ID = 2**63 - 1
EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="event id")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="sale item id")]
CONTROL_DOC = duty_doc(Duty.LIVE_SALE, errors=(404, 409, 422))


class ControlOut(BaseModel):
    action: str = Field(examples=["sale_item.paused"])
    subject: str = Field(examples=["item:42"])
    changed: bool = Field(description="false: it already was so (a repeat changes and records nothing)")
    details: dict[str, Any]


class TopUpIn(BaseModel):
    units: int = Field(ge=1, le=10_000_000, description="units added to the item's allotment", examples=[500])


@router.post(
    "/admin/events/{event_id}/pause",
    response_model=ControlOut,
    summary="Pause every item of a scheduled or live event (buyers get 409 sale_paused within 2 s)",
    **CONTROL_DOC,
)
async def pause_event(
    event_id: EventId, who: Principal = LiveSaleStaff, ctx: Context = Depends(get_ctx)
) -> Any:
    return await controls.pause_event(ctx, who.user_id, event_id)


@router.post(
    "/admin/events/{event_id}/resume",
    response_model=ControlOut,
    summary="Resume a paused event",
    **CONTROL_DOC,
)
async def resume_event(
    event_id: EventId, who: Principal = LiveSaleStaff, ctx: Context = Depends(get_ctx)
) -> Any:
    return await controls.resume_event(ctx, who.user_id, event_id)


@router.post(
    "/admin/events/{event_id}/end",
    response_model=ControlOut,
    summary="End a live event now; its orders may still be paid in their window",
    **CONTROL_DOC,
)
async def end_event(
    event_id: EventId, who: Principal = LiveSaleStaff, ctx: Context = Depends(get_ctx)
) -> Any:
    return await controls.end_event_early(ctx, who.user_id, event_id)


@router.post(
    "/admin/sale-items/{item_id}/pause", response_model=ControlOut, summary="Pause one item", **CONTROL_DOC
)
async def pause_item(item_id: ItemId, who: Principal = LiveSaleStaff, ctx: Context = Depends(get_ctx)) -> Any:
    return await controls.pause_item(ctx, who.user_id, item_id)


@router.post(
    "/admin/sale-items/{item_id}/resume", response_model=ControlOut, summary="Resume one item", **CONTROL_DOC
)
async def resume_item(
    item_id: ItemId, who: Principal = LiveSaleStaff, ctx: Context = Depends(get_ctx)
) -> Any:
    return await controls.resume_item(ctx, who.user_id, item_id)


@router.post(
    "/admin/sale-items/{item_id}/top-up",
    response_model=ControlOut,
    summary="Add units to a scheduled or live item from its warehouse's free stock",
    **CONTROL_DOC,
)
async def top_up_item(
    item_id: ItemId, body: TopUpIn, who: Principal = LiveSaleStaff, ctx: Context = Depends(get_ctx)
) -> Any:
    return await controls.top_up_item(ctx, who.user_id, item_id, body.units)


# --- the audit log -----------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    operator_id: int
    action: str
    subject: str
    details: dict[str, Any]


@router.get(
    "/admin/audit",
    response_model=list[AuditEntryOut],
    summary="Operator actions, newest first; page with before_id",
    **duty_doc(Duty.AUDIT, errors=(422,)),
)
async def audit_log(
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    action: Annotated[str | None, Query(max_length=64, examples=["sale_item.paused"])] = None,
    subject: Annotated[str | None, Query(max_length=128, examples=["event:12"])] = None,
    operator_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    _: Principal = AuditStaff,
    ctx: Context = Depends(get_ctx),
) -> Any:
    return await controls.audit_log(
        ctx, before_id=before_id, limit=limit, action=action, subject=subject, operator_id=operator_id
    )
