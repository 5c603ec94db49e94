"""The buy endpoint and the buyer's orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, Field

from flashport.api.deps import BuyerOnly, get_ctx, roles_doc
from flashport.domain.accounts import Principal, Role
from flashport.services.context import Context
from flashport.services.orders import lifecycle as orders
from flashport.services.orders.views import OrderView
from flashport.services.sales import buying

router = APIRouter(prefix="/api/v1", tags=["orders"])


class BuyIn(BaseModel):
    quantity: int = Field(1, description="units to buy, at most the item's per-buyer limit")


class OrderLineOut(BaseModel):
    line_no: int
    sku_id: int
    title: str
    quantity: int
    unit_price: Decimal
    total: Decimal


class OrderOut(BaseModel):
    id: str
    order_no: str
    status: str
    event_id: int
    sale_item_id: int
    quantity: int
    fulfilment: str
    goods_value: Decimal
    freight: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    currency: str
    lines: list[OrderLineOut]
    created_at: datetime
    payment_deadline: datetime
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    customs_status: str | None = Field(
        None,
        description="once paid: pending, declared, received, matched, released, shipped, rejected, refunded",
    )
    customs_reason_code: str | None = Field(
        None, description="why the declaration was rejected, e.g. identity_check_failed; null otherwise"
    )


@router.post(
    "/sale-items/{item_id}/buy",
    status_code=201,
    response_model=OrderOut,
    summary="Buy units of a live sale item",
    description="Reserves the units and creates an order that must be paid before `payment_deadline`. "
    "The `Idempotency-Key` header is required: repeating a request with the same key returns the same "
    "order (200) and never reserves twice. Errors: `sold_out`, `buyer_limit_reached`, `sale_not_started`, "
    "`sale_ended` (409); `invalid_quantity`, `idempotency_key_required`, `idempotency_key_reused` (422); "
    "`sale_item_not_found` (404); `stock_engine_unavailable`, `order_not_saved` (503).",
    **roles_doc(Role.BUYER, errors=(404, 409, 422, 503)),
)
async def buy(
    item_id: int,
    response: Response,
    body: BuyIn | None = None,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=128),
    who: Principal = BuyerOnly,
    ctx: Context = Depends(get_ctx),
) -> dict[str, object]:
    quantity = body.quantity if body is not None else 1
    order = await buying.buy(ctx, who.user_id, item_id, quantity, idempotency_key)
    if not order.pop("created"):
        response.status_code = 200
    return order


@router.get(
    "/orders",
    response_model=list[OrderOut],
    summary="The calling buyer's orders, newest first",
    **roles_doc(Role.BUYER),
)
async def my_orders(who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> list[OrderView]:
    return await orders.list_for_buyer(ctx, who.user_id)


@router.get(
    "/orders/{order_no}",
    response_model=OrderOut,
    summary="One of the calling buyer's orders",
    **roles_doc(Role.BUYER, errors=(404,)),
)
async def my_order(order_no: str, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> OrderView:
    return await orders.get_for_buyer(ctx, who.user_id, order_no)


@router.post(
    "/orders/{order_no}/cancel",
    response_model=OrderOut,
    summary="Cancel an unpaid order; its units go back on sale",
    **roles_doc(Role.BUYER, errors=(404, 409)),
)
async def cancel(order_no: str, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> OrderView:
    return await orders.cancel_by_buyer(ctx, who.user_id, order_no)
