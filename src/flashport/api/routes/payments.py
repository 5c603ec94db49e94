"""Paying orders, the provider's notifications, and the operators' view of payments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from flashport.api.deps import OrderStaff, duty_doc, get_ctx, public_doc, roles_doc
from flashport.api.inputs import Id, Limit
from flashport.api.rate_limited import buyer_limited
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal, Role
from flashport.domain.rate_limits import Action
from flashport.services.context import Context
from flashport.services.payments import queries as payment_queries
from flashport.services.payments import settlement as payments
from flashport.services.payments.views import PaymentDetail as PaymentDetailView
from flashport.services.payments.views import PaymentView, StartedPayment

router = APIRouter(prefix="/api/v1", tags=["payments"])
MAX_NOTIFICATION_FIELDS = 100


class PaymentOut(BaseModel):
    id: int
    order_no: str
    out_trade_no: str
    provider: str
    amount: Decimal
    status: str
    provider_trade_no: str | None
    payer_name: str | None
    payer_id_number: str | None  # always masked
    paid_at: datetime | None
    created_at: datetime


class CheckoutOut(PaymentOut):
    redirect_url: str


class RefundOut(BaseModel):
    id: int
    out_request_no: str
    provider_trade_no: str
    amount: Decimal
    reason: str
    status: str
    attempts: int
    last_error: str | None
    refunded_at: datetime | None
    created_at: datetime


class NotificationOut(BaseModel):
    id: int
    received_at: datetime
    notify_id: str | None
    trade_no: str | None
    trade_status: str | None
    signature_valid: bool
    outcome: str
    reason: str


class PaymentDetail(PaymentOut):
    refunds: list[RefundOut]
    notifications: list[NotificationOut]


@router.post(
    "/orders/{order_no}/pay",
    response_model=CheckoutOut,
    summary="Pay an unpaid order: returns the provider page to send the buyer to",
    description="Creates the order's payment once; asking again returns the same payment and a "
    "fresh `redirect_url`. Errors: `order_not_payable`, `payment_window_closed` (409).",
    **roles_doc(Role.BUYER, errors=(404, 409, 429, 503)),
)
async def pay(
    order_no: str, who: Principal = Depends(buyer_limited(Action.PAY)), ctx: Context = Depends(get_ctx)
) -> StartedPayment:
    return await payments.start_payment(ctx, who.user_id, order_no)


def _json_errors_of_a_text_route(doc: dict[str, Any]) -> dict[str, Any]:
    """The route answers text (``success``/``failure``), its errors JSON: with a ``model`` alone, FastAPI
    would document the errors in the route's text media type."""
    for response in doc["responses"].values():
        model = response.pop("model")
        response["content"] = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        }
    return doc


@router.post(
    "/payments/alipay/notify",
    response_class=PlainTextResponse,
    summary="Asynchronous notification from the payment provider (form POST, RSA2-signed)",
    description="Answers `success` once the notification is processed (duplicates included), "
    "`failure` when it is forged or not ours; the provider then retries. Every notification is "
    "stored with its verification result. Not settled within FLASHPORT_PAYMENT_NOTIFY_DEADLINE_SECONDS "
    "(the database stalled): 503 `service_unavailable` with `Retry-After`; the retry is answered once "
    "it is settled.",
    **_json_errors_of_a_text_route(public_doc(422, 503)),
)
async def notify(request: Request, ctx: Context = Depends(get_ctx)) -> PlainTextResponse:
    fields = _form_fields(await request.body())
    accepted = await payments.handle_notification(ctx, fields)
    return PlainTextResponse("success" if accepted else "failure")


def _form_fields(body: bytes) -> dict[str, str]:
    """The notification's fields from its ``application/x-www-form-urlencoded`` body (UTF-8, the
    charset we ask for): the standard library's parser, without a multipart parser's per-request setup.
    A repeated name keeps its last value, as a form read would."""
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_NOTIFICATION_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "not a form of at most 100 UTF-8 fields") from exc
    return dict(pairs)


@router.get(
    "/admin/payments",
    response_model=list[PaymentOut],
    summary="Payments, newest first",
    **duty_doc(Duty.ORDERS, errors=(422,)),
)
async def list_payments(
    status: str | None = None,
    order_no: str | None = None,
    limit: Limit = 100,
    _: Principal = OrderStaff,
    ctx: Context = Depends(get_ctx),
) -> list[PaymentView]:
    return await payment_queries.list_payments(ctx, status=status, order_no=order_no, limit=limit)


@router.get(
    "/admin/payments/{payment_id}",
    response_model=PaymentDetail,
    summary="One payment with its refunds and every notification received for it",
    **duty_doc(Duty.ORDERS, errors=(404,)),
)
async def payment_detail(
    payment_id: Id, _: Principal = OrderStaff, ctx: Context = Depends(get_ctx)
) -> PaymentDetailView:
    return await payment_queries.payment_detail(ctx, payment_id)
