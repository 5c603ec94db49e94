"""The order desk's API (customer service and operators): find orders, read one order's whole story,
refund it with a reason through the payment provider, and list refunds by state. The payments list is
``GET /api/v1/admin/payments`` (payments.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from flashport.api.deps import OrderStaff, RefundStaff, duty_doc, get_ctx
from flashport.api.inputs import MAX_ID, Input, Limit
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal
from flashport.domain.money import to_fen
from flashport.services.context import Context
from flashport.services.orders import desk
from flashport.services.payments import staff_refunds

router = APIRouter(prefix="/api/v1/admin", tags=["order desk"])
Ctx = Depends(get_ctx)
OrderNo = Annotated[str, Path(min_length=1, max_length=32, description="the order number")]


class RefundIn(Input):
    reason: str = Field(
        min_length=staff_refunds.MIN_REASON,
        max_length=staff_refunds.MAX_REASON,
        description="why the money goes back; kept with the refund and in the audit log",
        examples=["Parcel damaged in transit; buyer sent photos"],
    )
    amount: Decimal | None = Field(
        None, gt=0, max_digits=12, decimal_places=2, description="CNY; default: all that was paid"
    )


@router.get(
    "/orders",
    response_model=list[desk.OrderFound],
    summary="Find orders by order number, buyer (e-mail or account number) or phone",
    **duty_doc(Duty.ORDERS, errors=(422,)),
)
async def find_orders(
    q: Annotated[str, Query(min_length=1, max_length=desk.MAX_QUERY, examples=["13800138000"])],
    limit: Limit = 50,
    _: Principal = OrderStaff,
    ctx: Context = Ctx,
) -> Any:
    return await desk.find_orders(ctx, q, limit=limit)


@router.get(
    "/orders/{order_no}",
    response_model=desk.OrderStory,
    summary="One order's whole story: purchase, payment, declaration, shipment, refunds, events",
    **duty_doc(Duty.ORDERS, errors=(404,)),
)
async def order_story(order_no: OrderNo, _: Principal = OrderStaff, ctx: Context = Ctx) -> Any:
    return await desk.order_story(ctx, order_no)


@router.post(
    "/orders/{order_no}/refund",
    response_model=staff_refunds.StaffRefund,
    summary="Refund a paid order (all or part) with a reason, through the payment provider",
    **duty_doc(Duty.REFUNDS, errors=(404, 409, 422)),
)
async def refund_order(
    order_no: OrderNo, body: RefundIn, who: Principal = RefundStaff, ctx: Context = Ctx
) -> Any:
    amount = None if body.amount is None else to_fen(body.amount)
    return await staff_refunds.refund_order(ctx, who.user_id, order_no, body.reason, amount)


@router.get(
    "/refunds",
    response_model=list[desk.RefundListed],
    summary="Refunds, newest first, by state (pending: the provider has not confirmed yet)",
    **duty_doc(Duty.ORDERS, errors=(422,)),
)
async def list_refunds(
    status: Annotated[str | None, Query(pattern="^(pending|succeeded)$")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 50,
    _: Principal = OrderStaff,
    ctx: Context = Ctx,
) -> Any:
    return await desk.list_refunds(ctx, status=status, before_id=before_id, limit=limit)
