"""Cross-border compliance, buyer side: the identities a buyer buys as, and checkout (consignee,
identity, tax) before paying."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from flashport.api.deps import BuyerOnly, get_ctx, roles_doc
from flashport.api.inputs import Id, Input
from flashport.api.rate_limited import buyer_limited
from flashport.domain.accounts import Principal, Role
from flashport.domain.rate_limits import Action
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.orders.views import CheckoutView

router = APIRouter(prefix="/api/v1", tags=["compliance"])

MONEY = "CNY, two decimals, as a string"


class IdentityIn(Input):
    name: str = Field(max_length=100, description="the person's real name, as on the ID card")
    id_number: str = Field(
        max_length=40,
        description="18-character resident ID number; its first six digits must be an administrative "
        "division code (`id_region_unknown` otherwise)",
    )
    phone: str | None = Field(
        None,
        max_length=32,
        description="the person's own mainland mobile number, declared to customs as buyerTelephone; "
        "without it, checkout needs the order shipped to this person (`buyer_phone_required`)",
    )


class IdentityOut(BaseModel):
    id: int
    name: str
    id_number: str = Field(description="masked: region and last four characters only")
    created_at: datetime


class CheckoutIn(Input):
    # An address typed over several lines is folded to one line, as customs declares it (checkout).
    multiline_fields = frozenset({"consignee_address"})

    consignee_name: str = Field(max_length=100)
    consignee_phone: str = Field(max_length=32, description="mainland mobile number, 1[3-9] + 9 digits")
    consignee_address: str = Field(max_length=400)
    consignee_district: str | None = Field(None, max_length=12, description="6-digit division code")
    identity_id: int = Field(description="one of the caller's identities: the buyer declared to customs")


class TaxLineOut(BaseModel):
    line_no: int
    sku_id: int
    title: str
    quantity: int
    unit_price: str = Field(description=MONEY)
    goods_value: str = Field(description=MONEY)
    tax_category: str
    tax_base: str = Field(description="goods plus its share of freight, less its share of discount")
    tariff: str = Field(description=MONEY)
    consumption_tax: str = Field(description=MONEY)
    vat: str = Field(description=MONEY)
    tax: str = Field(description=MONEY)


class ConsigneeOut(BaseModel):
    name: str
    phone: str
    address: str
    district: str | None


class BuyerOut(BaseModel):
    name: str
    id_number: str = Field(description="masked")


class CheckoutOut(BaseModel):
    order_no: str
    status: str
    tax_regime: str = Field(description="cross_border, or general_trade for one item above the limit")
    goods_value: str = Field(description=MONEY)
    freight: str = Field(description=MONEY)
    discount: str = Field(description=MONEY)
    tax: str = Field(description=MONEY)
    total: str = Field(description="the amount payable: goods + freight + tax - discount")
    currency: str
    lines: list[TaxLineOut]
    consignee: ConsigneeOut
    buyer: BuyerOut
    checked_out_at: datetime
    payment_deadline: datetime


@router.get(
    "/identities",
    response_model=list[IdentityOut],
    summary="The calling buyer's identities, ID numbers masked",
    **roles_doc(Role.BUYER),
)
async def my_identities(
    who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> list[identities.Identity]:
    return await identities.list_identities(ctx, who.user_id)


@router.post(
    "/identities",
    status_code=201,
    response_model=IdentityOut,
    summary="Add a real-name identity (name and resident ID number)",
    description="The number is stored encrypted and shown masked. Errors: `invalid_id_number`, "
    "`id_check_digit_mismatch`, `id_region_unknown`, `id_birth_date_invalid`, `invalid_name`, "
    "`invalid_phone` (422); "
    "`identity_already_added` (409).",
    **roles_doc(Role.BUYER, errors=(409, 422)),
)
async def add_identity(
    body: IdentityIn, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> identities.Identity:
    return await identities.add_identity(ctx, who.user_id, body.name, body.id_number, body.phone)


@router.delete(
    "/identities/{identity_id}",
    status_code=204,
    response_class=Response,
    summary="Remove one of the calling buyer's identities",
    description="Orders already checked out keep the identity they were checked out with.",
    **roles_doc(Role.BUYER, errors=(404,)),
)
async def remove_identity(
    identity_id: Id, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> Response:
    await identities.remove_identity(ctx, who.user_id, identity_id)
    return Response(status_code=204)


@router.post(
    "/orders/{order_no}/checkout",
    response_model=CheckoutOut,
    summary="Name the consignee and the buyer identity of an unpaid order, and price it for customs",
    description="Must be done before paying: the payment charges the `total` computed here. May be "
    "repeated until the payment starts. Errors: `order_not_found`, `identity_not_found` (404); "
    "`order_not_payable`, `payment_window_closed`, `checkout_after_payment`, `single_transaction_limit`, "
    "`annual_limit_exceeded` (409); `buyer_phone_required`, `invalid_name`, `invalid_phone`, "
    "`invalid_address`, `invalid_district` (422).",
    **roles_doc(Role.BUYER, errors=(404, 409, 422, 429)),
)
async def check_out(
    order_no: str,
    body: CheckoutIn,
    who: Principal = Depends(buyer_limited(Action.CHECKOUT)),
    ctx: Context = Depends(get_ctx),
) -> CheckoutView:
    form = checkout.CheckoutForm(
        body.consignee_name,
        body.consignee_phone,
        body.consignee_address,
        body.consignee_district,
        body.identity_id,
    )
    return await checkout.check_out(ctx, who.user_id, order_no, form)


@router.get(
    "/orders/{order_no}/checkout",
    response_model=CheckoutOut,
    summary="The checkout of one of the calling buyer's orders",
    description="Errors: `checkout_not_found` (404) until the order is checked out.",
    **roles_doc(Role.BUYER, errors=(404,)),
)
async def my_checkout(
    order_no: str, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> CheckoutView:
    return await checkout.get_checkout(ctx, who.user_id, order_no)
