"""Parcel tracking: the buyer reads a shipment's carrier, waybill and milestones; a carrier partner,
with its key, reports the milestones of its own parcels. Handlers parse, call one service function, and
return."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from flashport.api.deps import BuyerOnly, get_ctx, roles_doc
from flashport.api.inputs import Input
from flashport.api.partner_auth import PartnerOnly, partner_doc
from flashport.domain.accounts import Principal, Role
from flashport.domain.partners import Partner
from flashport.services.context import Context
from flashport.services.tracking import milestones

router = APIRouter(prefix="/api/v1", tags=["tracking"])
Ctx = Depends(get_ctx)


class MilestoneOut(BaseModel):
    milestone: str = Field(
        description="declared, released, picked, handed_over, in_transit or delivered",
        examples=["in_transit"],
    )
    at: datetime


class ShipmentOut(BaseModel):
    order_no: str
    carrier: str | None = Field(description="the carrier's registered name; null before it has the parcel")
    logistics_no: str | None = Field(description="the waybill number; null before the carrier gave one")
    milestones: list[MilestoneOut] = Field(description="reached so far, in the journey's order")
    delivered: bool


class MilestoneIn(Input):
    """One scan of a parcel by its carrier."""

    milestone: str = Field(
        max_length=16, description="handed_over, in_transit or delivered", examples=["delivered"]
    )
    at: datetime | None = Field(None, description="when it happened (with a zone); now when absent")


@router.get(
    "/orders/{order_no}/shipment",
    response_model=ShipmentOut,
    summary="Where the calling buyer's parcel is: carrier, waybill number and milestones",
    **roles_doc(Role.BUYER, errors=(404,)),
)
async def my_shipment(
    order_no: str = Path(max_length=32), who: Principal = BuyerOnly, ctx: Context = Ctx
) -> milestones.ShipmentView:
    return await milestones.shipment_for_buyer(ctx, who.user_id, order_no)


@router.post(
    "/partner/shipments/{logistics_no}/milestones",
    response_model=ShipmentOut,
    summary="A carrier reports a milestone of one of its parcels (idempotent per milestone)",
    **partner_doc(404, 422),
)
async def report_milestone(
    body: MilestoneIn,
    logistics_no: str = Path(max_length=60),
    me: Partner = PartnerOnly,
    ctx: Context = Ctx,
) -> milestones.ShipmentView:
    """Only a carrier partner, for its own waybills (404 for any other). A milestone reported twice
    changes nothing the second time; delivery also writes ``shipment.delivered``."""
    return await milestones.report_by_carrier(ctx, me, logistics_no, body.milestone, body.at)
