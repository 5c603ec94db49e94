"""The buy endpoint and the buyer's orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from flashport.api.buy.answer import answer_purchase
from flashport.api.buy.asgi import buy_headers, read_body
from flashport.api.buy.request import MAX_ITEM_ID
from flashport.api.deps import BuyerOnly, get_ctx, roles_doc
from flashport.api.inputs import Input
from flashport.api.rate_limited import address_of
from flashport.domain.accounts import Principal, Role
from flashport.domain.orders import MAX_UNITS_PER_ORDER
from flashport.services.context import Context
from flashport.services.orders import lifecycle as orders
from flashport.services.orders.views import OrderView

router = APIRouter(prefix="/api/v1", tags=["orders"])


class BuyIn(Input):
    """The buy request's body, for OpenAPI only: ``api/buy/request.py`` reads the bytes."""

    quantity: int = Field(
        1, ge=1, le=MAX_UNITS_PER_ORDER, description="units to buy, at most the item's per-buyer limit"
    )


class OrderLineOut(BaseModel):
    line_no: int
    sale_item_id: int | None = Field(
        None, description="the line's sale item (on order reads; the buy answer's one line is the order's)"
    )
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


def _buy_doc() -> dict[str, Any]:
    """The buy route's OpenAPI, written out: the handler declares no parameters, because it reads the
    raw request through the same reader as the other two lanes (``api/buy/request.py``)."""
    doc = roles_doc(Role.BUYER, errors=(404, 409, 422, 503))
    doc["responses"][201] = {
        "model": OrderOut,
        "description": "The order, as this purchase made it. A retry with the same Idempotency-Key gets "
        "this answer again, status and body, with the header `Idempotent-Replayed: true`.",
        "headers": {
            "Idempotent-Replayed": {
                "description": "`true` on a retry's answer (absent on the first)",
                "schema": {"type": "string", "enum": ["true"]},
            }
        },
    }
    doc["openapi_extra"] |= {
        "security": [{"HTTPBearer": []}],
        "parameters": [
            {
                "name": "item_id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ITEM_ID},
            },
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "one per purchase (e.g. a UUID); a retry sends the same one",
                "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[ -~]+$"},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BuyIn.model_json_schema()}},
        },
    }
    return doc


@router.post(
    "/sale-items/{item_id}/buy",
    status_code=201,
    response_model=OrderOut,
    summary="Buy units of a live sale item",
    description="Reserves the units and creates an order that must be paid before `payment_deadline`. "
    "The `Idempotency-Key` header is required: repeating a request with the same key returns the first "
    "answer again (201, the same body, `Idempotent-Replayed: true`) and never reserves twice. "
    "The body is a JSON object; `quantity`, 1 when absent, must "
    "be a JSON integer. Errors: `sold_out`, `buyer_limit_reached`, `sale_not_started`, `sale_ended`, "
    "`sale_paused`, `single_transaction_limit` (more than one unit whose dutiable value, freight "
    "included, passes 5,000 CNY: docs/tax-and-limits.md) (409); "
    "`validation_error`, `payload_too_large`, `invalid_quantity`, `idempotency_key_required`, "
    "`invalid_idempotency_key`, `idempotency_key_reused` (422); `sale_item_not_found` (404); "
    "`rate_limited` (429, with `Retry-After`); `stock_engine_unavailable`, `order_not_saved`, "
    "`purchase_pending` (undecided within FLASHPORT_BUY_DEADLINE_SECONDS: retry with the same key) (503).",
    **_buy_doc(),
)
async def buy(request: Request, ctx: Context = Depends(get_ctx)) -> Response:
    authorization, key = buy_headers(request.scope["headers"])
    body, too_large = await read_body(request.receive)
    answer = await answer_purchase(
        ctx, request.path_params["item_id"], authorization, key, body, too_large, address_of(request)
    )
    return Response(answer.body, answer.status, dict(answer.headers), media_type="application/json")


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
