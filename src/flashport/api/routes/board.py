"""The live sale board as JSON: what the operator console's board page polls, and what a wall screen or
a script may read. Built at most once a second per process, however many ask (services/sales/board.py)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from flashport.api.deps import OperatorOnly, get_ctx, roles_doc
from flashport.domain.accounts import Principal, Role
from flashport.domain.sales import EventStatus
from flashport.services.context import Context
from flashport.services.sales.board import Board, SaleBoard

router = APIRouter(prefix="/api/v1", tags=["events"])


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


class EventFiguresOut(BaseModel):
    event_id: int
    title: str
    channel: str
    status: EventStatus = Field(description="live, or ended (sold out) while its window still runs")
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
    **roles_doc(Role.OPERATOR),
)
async def get_board(
    _: Principal = OperatorOnly,
    ctx: Context = Depends(get_ctx),
    board: SaleBoard = Depends(sale_board),
) -> Board:
    return await board.snapshot(ctx)
