"""After-sales: the buyer asks to return a delivered parcel and follows the return; an operator lists
returns and approves them. Handlers parse, call one service function, and return."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Response
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
    state: str = Field(
        description=(
            "refunded (at once: customs had not accepted the inventory list); or, customs having accepted"
            " it, the withdrawal's requested, declared (CEB623 sent), withdrawn (refunded) or refused"
        )
    )
    refund_id: int = Field(description="the refund of the whole payment (0: none yet, or refunded already)")
    requested_at: datetime | None = None
    declared_at: datetime | None = Field(None, description="when the withdrawal (CEB623) went to customs")
    answered_at: datetime | None = Field(None, description="when customs answered it (CEB624)")
    customs_status: int | None = None
    customs_info: str | None = Field(None, description="customs' reason, or why the platform stopped")


def _cancellation_out(view: cancellation.CancellationView) -> CancellationOut:
    return CancellationOut(
        order_no=view.order_no,
        state=view.state,
        refund_id=view.refund_id or 0,
        requested_at=view.requested_at,
        declared_at=view.declared_at,
        answered_at=view.answered_at,
        customs_status=view.customs_status,
        customs_info=view.customs_info,
    )


_CANCEL_DOC = roles_doc(Role.BUYER, errors=(404, 409))
_CANCEL_DOC["responses"] = {
    202: {"description": "customs accepted the inventory list: its withdrawal (CEB623) is asked for"},
    **_CANCEL_DOC["responses"],
}


@router.post(
    "/orders/{order_no}/cancellation",
    response_model=CancellationOut,
    summary="Call off a paid order before customs released it: refunded at once, or withdrawn first",
    **_CANCEL_DOC,
)
async def cancel_paid_order(
    response: Response, order_no: str = Path(max_length=32), who: Principal = BuyerOnly, ctx: Context = Ctx
) -> CancellationOut:
    """200 `refunded` when customs had not accepted the inventory list. 202 `requested` when it had: the
    refund follows customs' acceptance of the withdrawal (follow it at `GET .../cancellation`). 409
    `already_released` (ask for a return after delivery), `already_cancelled`, `cancellation_pending`
    (a withdrawal is with customs), `cancel_needs_customs` (the goods are detained or returned) or
    `not_paid` (an unpaid order is cancelled with `/cancel`)."""
    view = await cancellation.cancel_before_release(ctx, who.user_id, order_no)
    if view.state != cancellation.REFUNDED:
        response.status_code = 202
    return _cancellation_out(view)


@router.get(
    "/orders/{order_no}/cancellation",
    response_model=CancellationOut,
    summary="The calling buyer's withdrawal of this order from customs, and customs' answer",
    **roles_doc(Role.BUYER, errors=(404,)),
)
async def my_cancellation(
    order_no: str = Path(max_length=32), who: Principal = BuyerOnly, ctx: Context = Ctx
) -> CancellationOut:
    """404 `cancellation_not_found` when no withdrawal was asked for (a cancellation refunded at once
    shows as the order's refund)."""
    return _cancellation_out(await cancellation.cancellation_for_buyer(ctx, who.user_id, order_no))


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
