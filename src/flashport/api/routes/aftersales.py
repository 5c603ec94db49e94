"""After-sales: the buyer asks to return a delivered parcel and follows the return; an operator lists
returns and approves them. Handlers parse, call one service function, and return."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from flashport.api.deps import BuyerOnly, OperatorOnly, get_ctx, roles_doc
from flashport.api.inputs import Id, Input
from flashport.domain.accounts import Principal, Role
from flashport.domain.aftersales import REASON_MAX, AftersaleState
from flashport.services.aftersales import cancellation, returns
from flashport.services.context import Context

router = APIRouter(prefix="/api/v1", tags=["after-sales"])
Ctx = Depends(get_ctx)


class ReturnIn(Input):
    reason: str = Field(min_length=1, max_length=REASON_MAX, description="why the parcel goes back")


class ReturnOut(BaseModel):
    id: int
    order_no: str
    state: str = Field(description="requested, approved, declared, refunded or refused")
    reason: str
    requested_at: datetime
    approved_at: datetime | None
    declared_at: datetime | None = Field(description="when the return application (CEB625) went to customs")
    answered_at: datetime | None = Field(description="when customs answered it (CEB626)")
    customs_status: int | None
    customs_info: str | None
    refund_id: int | None


@router.post(
    "/orders/{order_no}/returns",
    response_model=ReturnOut,
    status_code=201,
    summary="Ask to return a delivered parcel, within the return policy's days",
    **roles_doc(Role.BUYER, errors=(404, 409, 422)),
)
async def ask_return(
    body: ReturnIn, order_no: str = Path(max_length=32), who: Principal = BuyerOnly, ctx: Context = Ctx
) -> returns.AftersaleView:
    """409 `not_delivered`, `return_window_closed` or `return_exists`; 422 `reason_required`."""
    return await returns.request_return(ctx, who.user_id, order_no, body.reason)


@router.get(
    "/orders/{order_no}/returns",
    response_model=ReturnOut,
    summary="The calling buyer's return of this order",
    **roles_doc(Role.BUYER, errors=(404,)),
)
async def my_return(
    order_no: str = Path(max_length=32), who: Principal = BuyerOnly, ctx: Context = Ctx
) -> returns.AftersaleView:
    return await returns.return_for_buyer(ctx, who.user_id, order_no)


class CancellationOut(BaseModel):
    order_no: str
    refund_id: int = Field(description="the refund of the whole payment (0: refunded already)")


@router.post(
    "/orders/{order_no}/cancellation",
    response_model=CancellationOut,
    summary="Call off a paid order before customs released it: full refund, declaration withdrawn",
    **roles_doc(Role.BUYER, errors=(404, 409)),
)
async def cancel_paid_order(
    order_no: str = Path(max_length=32), who: Principal = BuyerOnly, ctx: Context = Ctx
) -> CancellationOut:
    """409 `already_released` (ask for a return after delivery), `cancel_needs_customs` (customs
    accepted the inventory list) or `not_paid` (an unpaid order is cancelled with `/cancel`)."""
    refund_id = await cancellation.cancel_before_release(ctx, who.user_id, order_no)
    return CancellationOut(order_no=order_no, refund_id=refund_id)


@router.get(
    "/aftersales",
    response_model=list[ReturnOut],
    summary="Returns, oldest first, optionally in one state",
    **roles_doc(Role.OPERATOR),
)
async def list_returns(
    state: AftersaleState | None = Query(None), _: Principal = OperatorOnly, ctx: Context = Ctx
) -> list[returns.AftersaleView]:
    return await returns.list_returns(ctx, state)


@router.post(
    "/aftersales/{aftersale_id}/approve",
    response_model=ReturnOut,
    summary="Approve a requested return; it is then declared to customs (CEB625)",
    **roles_doc(Role.OPERATOR, errors=(404, 409)),
)
async def approve_return(
    aftersale_id: Id, who: Principal = OperatorOnly, ctx: Context = Ctx
) -> returns.AftersaleView:
    """409 `not_requested` when it was approved already or is further on."""
    return await returns.approve(ctx, who.user_id, aftersale_id)
