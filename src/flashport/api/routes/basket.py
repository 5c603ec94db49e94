"""The buyer's basket: add a unit (reserved at once), see it with the time left, take a unit out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, Field

from flashport.api.deps import BuyerOnly, get_ctx, roles_doc
from flashport.api.inputs import MAX_ID, Input
from flashport.api.routes.orders import OrderOut
from flashport.domain.accounts import Principal, Role
from flashport.domain.money import fen_to_decimal
from flashport.services.context import Context
from flashport.services.orders import basket, basket_checkout
from flashport.services.orders.basket import BasketView
from flashport.services.orders.views import OrderView

router = APIRouter(prefix="/api/v1/basket", tags=["basket"])


class BasketAddIn(Input):
    sale_item_id: int = Field(
        ge=1, le=MAX_ID, description="the live sale item to put one unit of in the basket"
    )
    admission: str | None = Field(
        None, max_length=256, description="for an item with a waiting room: the token its queue gave"
    )


class BasketUnitOut(BaseModel):
    order_no: str = Field(description="the order holding this unit until the basket's hold ends")
    sale_item_id: int
    title: str
    unit_price: Decimal
    added_at: datetime


class BasketOut(BaseModel):
    units: list[BasketUnitOut]
    goods_value: Decimal
    currency: str = "CNY"
    hold_until: datetime | None = Field(
        None, description="when every unit goes back on sale unless the basket is checked out; null if empty"
    )
    seconds_left: int | None = Field(None, description="whole seconds until hold_until")
    single_transaction_limit: Decimal | None = Field(
        None, description="the most one order's dutiable value may be (goods, freight and insurance)"
    )
    added_order_no: str | None = Field(None, description="on an add: the order holding the unit just added")


def _out(view: BasketView, added: str | None = None) -> BasketOut:
    return BasketOut(
        units=[
            BasketUnitOut(
                order_no=u.order_no,
                sale_item_id=u.sale_item_id,
                title=u.title,
                unit_price=fen_to_decimal(u.unit_price_fen),
                added_at=u.added_at,
            )
            for u in view.units
        ],
        goods_value=fen_to_decimal(view.goods_fen),
        hold_until=view.hold_until,
        seconds_left=view.seconds_left,
        single_transaction_limit=None if view.limit_fen is None else fen_to_decimal(view.limit_fen),
        added_order_no=added,
    )


@router.get("", response_model=BasketOut, summary="The calling buyer's basket", **roles_doc(Role.BUYER))
async def my_basket(who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> BasketOut:
    return _out(await basket.view(ctx, who.user_id))


@router.post(
    "/items",
    status_code=201,
    response_model=BasketOut,
    summary="Put one unit of a live sale item in the basket (reserved at once)",
    description="Reserves one unit exactly as a purchase does (same stock, same per-buyer limit) and holds "
    "it until the basket's `hold_until`: the payment window counted from the basket's first unit. The "
    "`Idempotency-Key` header is required; a retry with the same key answers 200 with the same basket and "
    "reserves nothing. Errors: `sold_out`, `buyer_limit_reached`, `sale_not_started`, `sale_ended`, "
    "`sale_paused`, `basket_other_warehouse` (every unit of a basket ships from one warehouse), "
    "`single_transaction_limit` (409); `admission_required`, `invalid_admission`, `admission_expired` for "
    "an item with a waiting room (403); `sale_item_not_found` (404); `idempotency_key_required`, "
    "`idempotency_key_reused`, `validation_error` (422); `stock_engine_unavailable`, "
    "`order_not_saved`, `purchase_pending` (503).",
    **roles_doc(Role.BUYER, errors=(403, 404, 409, 422, 503)),
)
async def add_to_basket(
    body: BasketAddIn,
    response: Response,
    idempotency_key: str | None = Header(
        None, description="one per add (e.g. a UUID); a retry sends the same"
    ),
    who: Principal = BuyerOnly,
    ctx: Context = Depends(get_ctx),
) -> BasketOut:
    added = await basket.add(ctx, who.user_id, body.sale_item_id, idempotency_key, body.admission)
    if not added.created:
        response.status_code = 200
    return _out(added.basket, added.order_no)


@router.delete(
    "/items/{order_no}",
    response_model=BasketOut,
    summary="Take a unit out of the basket; it goes back on sale at once",
    description="Errors: `basket_unit_not_found` (404); `order_not_cancellable` (409).",
    **roles_doc(Role.BUYER, errors=(404, 409)),
)
async def remove_from_basket(
    order_no: str, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> BasketOut:
    return _out(await basket.remove(ctx, who.user_id, order_no))


@router.post(
    "/checkout",
    status_code=201,
    response_model=OrderOut,
    summary="Check the basket out as one order: several lines, one payment, one parcel",
    description="Folds every unit the basket still holds into one pending order, one line per item "
    "with the quantities summed, due at the basket's `hold_until`. Nothing is reserved or returned: "
    "the units the basket held are that order's now (the holding orders become `merged`). Then check "
    "the order out (`PUT /api/v1/orders/{order_no}/checkout`) and pay it as any order. The "
    "`Idempotency-Key` header is required; a retry with the same key answers 200 with the same order. "
    "Errors: `basket_empty` (409: the hold has ended, or nothing is in the basket); "
    "`idempotency_key_required` (422).",
    **roles_doc(Role.BUYER, errors=(409, 422)),
)
async def check_out_basket(
    response: Response,
    idempotency_key: str | None = Header(None, description="one per checkout; a retry sends the same"),
    who: Principal = BuyerOnly,
    ctx: Context = Depends(get_ctx),
) -> OrderView:
    done = await basket_checkout.check_out_basket(ctx, who.user_id, idempotency_key)
    if not done.created:
        response.status_code = 200
    return done.order
