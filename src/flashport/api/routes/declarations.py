"""Customs declarations, for compliance officers (operators): list and filter, open one with its
messages and receipts, download a message exactly as sent, re-declare a rejected one after a fix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from flashport.api.deps import CustomsStaff, duty_doc, get_ctx
from flashport.api.inputs import MAX_ID, Id, Input
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal
from flashport.domain.declarations import DeclarationState
from flashport.services.context import Context
from flashport.services.customs import operator

router = APIRouter(prefix="/api/v1/declarations", tags=["customs"])
Ctx = Depends(get_ctx)


class DeclarationSummary(BaseModel):
    order_no: str
    trade_mode: str = Field(description="1210 bonded import, 9610 direct import")
    state: DeclarationState
    version: int = Field(description="1, then one more for each re-declaration")
    cop_no: str = Field(description="the inventory list's own number, echoed by customs")
    logistics_no: str | None
    reason_code: str | None = Field(description="why customs rejected it, e.g. payer_mismatch")
    reason: str | None
    attempts: int
    last_error: str | None = Field(description="why the last attempt to send the documents failed")
    refund_after: datetime | None = Field(description="a rejection not fixed by then is refunded")
    attention_reason: str | None = Field(
        description="set while it is on the operator's worklist: why it cannot go on by itself "
        "(detained, returned, a processing error, sending kept failing)"
    )
    attention_at: datetime | None
    released_at: datetime | None
    shipped_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeclarationPage(BaseModel):
    items: list[DeclarationSummary]
    next_after: int
    has_more: bool
    counts: dict[str, int] = Field(description="how many declarations are in each state, all states listed")
    needing_attention: int = Field(description="how many are on the operator's worklist, any state")


class MessageOut(BaseModel):
    id: int
    kind: str = Field(description="CEB311 order, CEB411 payment, CEB511 waybill, CEB621 inventory list")
    party: str = Field(description="who declared it: platform, payment or logistics")
    app_type: str = Field(description="1 new, 2 change, 3 delete")
    version: int
    guid: str
    created_at: datetime
    sent_at: datetime | None


class ReceiptOut(BaseModel):
    kind: str
    message_guid: str
    return_status: int
    return_info: str
    return_time: datetime
    applied: bool = Field(description="false for receipts about an older version, or repeated")
    received_at: datetime


class DeclarationOut(DeclarationSummary):
    payment_declare_no: str | None
    logistics_code: str | None
    logistics_name: str | None
    bill_no: str | None
    messages: list[MessageOut]
    receipts: list[ReceiptOut]


class ConsigneeFix(BaseModel):
    name: str = Field(max_length=100)
    phone: str = Field(max_length=32)
    address: str = Field(max_length=400)
    district: str | None = Field(None, max_length=12)


class RedeclareIn(Input):
    consignee: ConsigneeFix | None = Field(None, description="correct the consignee before sending again")


@router.get(
    "",
    response_model=DeclarationPage,
    summary="Declarations, oldest first, optionally in one state",
    **duty_doc(Duty.CUSTOMS, errors=(422,)),
)
async def list_declarations(
    state: DeclarationState | None = None,
    after: int = Query(0, ge=0, le=MAX_ID, description="`next_after` of the previous page"),
    limit: int = Query(50, ge=1, le=operator.MAX_PAGE),
    needs_attention: bool = Query(False, description="only those on the operator's worklist"),
    _: Principal = CustomsStaff,
    ctx: Context = Ctx,
) -> operator.DeclarationPage:
    return await operator.list_declarations(
        ctx, state=state, after_id=after, limit=limit, attention_only=needs_attention
    )


@router.get(
    "/{order_no}",
    response_model=DeclarationOut,
    summary="One declaration with its messages and receipts",
    **duty_doc(Duty.CUSTOMS, errors=(404,)),
)
async def get_declaration(
    order_no: str, _: Principal = CustomsStaff, ctx: Context = Ctx
) -> operator.DeclarationDetail:
    return await operator.get_declaration(ctx, order_no)


def _xml_download_doc() -> dict[str, Any]:
    doc = duty_doc(Duty.CUSTOMS, errors=(404,))
    doc["responses"] = {**doc.get("responses", {}), 200: {"content": {"application/xml": {}}}}
    return doc


@router.get(
    "/{order_no}/messages/{message_id}",
    summary="Download one message exactly as it was sent (XML); each download is recorded",
    response_class=Response,
    **_xml_download_doc(),
)
async def download_message(
    order_no: str, message_id: Id, who: Principal = CustomsStaff, ctx: Context = Ctx
) -> Response:
    found = await operator.message_body(ctx, order_no, message_id, operator_id=who.user_id)
    return Response(
        found.body,
        media_type="application/xml",
        headers={"content-disposition": f'attachment; filename="{found.name}"', "cache-control": "no-store"},
    )


@router.post(
    "/{order_no}/redeclare",
    response_model=DeclarationOut,
    summary="Send a rejected declaration again (as changes), optionally correcting the consignee",
    **duty_doc(Duty.CUSTOMS, errors=(404, 409, 422)),
)
async def redeclare(
    order_no: str, body: RedeclareIn | None = None, _: Principal = CustomsStaff, ctx: Context = Ctx
) -> operator.DeclarationDetail:
    fix = body.consignee if body else None
    consignee = operator.ConsigneeCorrection(fix.name, fix.phone, fix.address, fix.district) if fix else None
    return await operator.redeclare(ctx, order_no, consignee)
