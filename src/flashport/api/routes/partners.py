"""Partners: operators register them and manage their API keys (``/api/v1/partners``); partners, with
a key, read their own slice (``/api/v1/partner/...``). Handlers parse, call one service function, and
return."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from flashport.api.deps import OperatorOnly, get_ctx, roles_doc
from flashport.api.partner_auth import PartnerOnly, partner_doc
from flashport.domain.accounts import Principal, Role
from flashport.domain.partners import Partner, PartnerKind
from flashport.services.context import Context
from flashport.services.partners import feed, keys, registry, views, webhooks

router = APIRouter(prefix="/api/v1", tags=["partners"])
Ctx = Depends(get_ctx)
PartnerId = Path(ge=1, le=2**62)
KeyPk = Path(ge=1, le=2**62)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartnerIn(Input):
    name: str = Field(min_length=1, max_length=200, examples=["SF Express"])
    kind: PartnerKind
    supplier_id: int | None = Field(None, ge=1, description="a supplier partner: the supplier it is")
    logistics_code: str | None = Field(None, max_length=18, description="a carrier: its logistics code")
    pay_code: str | None = Field(
        None, max_length=32, description="the payment company: the provider its payments carry, e.g. alipay"
    )


class PartnerOut(BaseModel):
    id: int
    name: str
    kind: PartnerKind
    supplier_id: int | None
    logistics_code: str | None
    pay_code: str | None
    is_active: bool
    created_at: datetime


class KeyIn(Input):
    label: str = Field("", max_length=100)


class RotateIn(Input):
    overlap_seconds: int = Field(
        24 * 3600,
        ge=0,
        le=int(keys.MAX_OVERLAP.total_seconds()),
        description="how long the old key still works",
    )


class IssuedKeyOut(BaseModel):
    id: int
    key_id: str
    key: str = Field(description="the key itself: shown this once, store it now")
    expires_old_at: datetime | None


class KeyOut(BaseModel):
    id: int
    key_id: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


# --- operators ----------------------------------------------------------------------------------


@router.post(
    "/partners", status_code=201, response_model=PartnerOut, **roles_doc(Role.OPERATOR, errors=(409, 422))
)
async def register_partner(body: PartnerIn, _: Principal = OperatorOnly, ctx: Context = Ctx) -> Partner:
    return await registry.register(
        ctx,
        name=body.name,
        kind=body.kind,
        supplier_id=body.supplier_id,
        logistics_code=body.logistics_code or None,
        pay_code=body.pay_code or None,
    )


@router.get("/partners", response_model=list[PartnerOut], **roles_doc(Role.OPERATOR))
async def list_partners(_: Principal = OperatorOnly, ctx: Context = Ctx) -> list[Partner]:
    return await registry.list_all(ctx)


@router.get("/partners/{partner_id}", response_model=PartnerOut, **roles_doc(Role.OPERATOR, errors=(404,)))
async def get_partner(
    partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> Partner:
    return await registry.get(ctx, partner_id)


@router.post(
    "/partners/{partner_id}/disable", response_model=PartnerOut, **roles_doc(Role.OPERATOR, errors=(404,))
)
async def disable_partner(
    partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> Partner:
    """The partner's keys stop working at once; its feed keeps filling, for when it is enabled again."""
    return await registry.set_active(ctx, partner_id, False)


@router.post(
    "/partners/{partner_id}/enable", response_model=PartnerOut, **roles_doc(Role.OPERATOR, errors=(404,))
)
async def enable_partner(
    partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> Partner:
    return await registry.set_active(ctx, partner_id, True)


@router.post(
    "/partners/{partner_id}/keys",
    status_code=201,
    response_model=IssuedKeyOut,
    **roles_doc(Role.OPERATOR, errors=(404, 422)),
)
async def issue_key(
    body: KeyIn, partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> keys.IssuedKey:
    return await keys.issue(ctx, partner_id, body.label)


@router.get("/partners/{partner_id}/keys", response_model=list[KeyOut], **roles_doc(Role.OPERATOR))
async def list_keys(
    partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> list[keys.KeyInfo]:
    return await keys.list_keys(ctx, partner_id)


@router.post(
    "/partners/{partner_id}/keys/{key_pk}/rotate",
    status_code=201,
    response_model=IssuedKeyOut,
    **roles_doc(Role.OPERATOR, errors=(404, 422)),
)
async def rotate_key(
    body: RotateIn,
    partner_id: int = PartnerId,
    key_pk: int = KeyPk,
    _: Principal = OperatorOnly,
    ctx: Context = Ctx,
) -> keys.IssuedKey:
    """A new key; the old one keeps working for the overlap, so the partner can switch without a gap."""
    return await keys.rotate(ctx, partner_id, key_pk, timedelta(seconds=body.overlap_seconds))


@router.delete(
    "/partners/{partner_id}/keys/{key_pk}", status_code=204, **roles_doc(Role.OPERATOR, errors=(404,))
)
async def revoke_key(
    partner_id: int = PartnerId, key_pk: int = KeyPk, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> Response:
    await keys.revoke(ctx, partner_id, key_pk)
    return Response(status_code=204)


# --- partners, with a key ------------------------------------------------------------------------


@router.get("/partner/me", response_model=PartnerOut, **partner_doc())
async def who_am_i(me: Partner = PartnerOnly) -> Partner:
    return me


@router.get("/partner/orders/{order_no}", response_model=views.PartnerOrderView, **partner_doc(404))
async def partner_order(
    order_no: str = Path(max_length=32), me: Partner = PartnerOnly, ctx: Context = Ctx
) -> views.PartnerOrderView:
    """The order as this partner may see it (by kind); 404 for any order outside its scope."""
    return await views.order_for(ctx, me, order_no)


@router.get("/partner/feed", response_model=feed.FeedPage, **partner_doc(422))
async def partner_feed(
    after: str | None = Query(None, description="cursor from a previous page (next_cursor)"),
    since: datetime | None = Query(
        None, description="without a cursor: start at the first event at or after"
    ),
    limit: int = Query(100, ge=1, le=1000),
    type: list[str] | None = Query(None, description="only events of these types"),
    me: Partner = PartnerOnly,
    ctx: Context = Ctx,
) -> feed.FeedPage:
    """This partner's events in commit order, each with a per-subject sequence number and a link to the
    resource. Pass `next_cursor` back as `after`; an empty page keeps the cursor, so poll again later."""
    async with ctx.read() as conn:
        return await feed.page(conn, me.id, after=after, since=since, limit=limit, types=type)


# --- webhooks -----------------------------------------------------------------------------------

EndpointId = Path(ge=1, le=2**62)
DeliveryId = Path(ge=1, le=2**62)


class EndpointIn(Input):
    url: str = Field(max_length=500, examples=["https://erp.example.com/flashport/webhooks"])
    event_types: list[str] = Field(
        default_factory=list, max_length=100, description="types wanted, e.g. order.paid; empty: all"
    )


class SecretRotationIn(Input):
    overlap_seconds: int = Field(
        24 * 3600, ge=0, le=7 * 24 * 3600, description="how long the old secret signs too"
    )


class RecoverIn(Input):
    since: datetime = Field(description="queue again every event that occurred at or after this time")


class RecoveredOut(BaseModel):
    events: int


@router.post(
    "/partner/webhooks", status_code=201, response_model=webhooks.EndpointWithSecret, **partner_doc(422)
)
async def create_webhook(
    body: EndpointIn, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> webhooks.EndpointWithSecret:
    """A Standard Webhooks endpoint; the signing secret (`whsec_...`) is in this answer only."""
    return await webhooks.create(ctx, me.id, body.url, body.event_types)


@router.get("/partner/webhooks", response_model=list[webhooks.Endpoint], **partner_doc())
async def list_webhooks(me: Partner = PartnerOnly, ctx: Context = Ctx) -> list[webhooks.Endpoint]:
    return await webhooks.list_for(ctx, me.id)


@router.post(
    "/partner/webhooks/{endpoint_id}/rotate-secret",
    response_model=webhooks.EndpointWithSecret,
    **partner_doc(404, 422),
)
async def rotate_webhook_secret(
    body: SecretRotationIn, endpoint_id: int = EndpointId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> webhooks.EndpointWithSecret:
    """A new secret; deliveries carry a signature with each secret until the overlap ends."""
    return await webhooks.rotate_secret(ctx, me.id, endpoint_id, timedelta(seconds=body.overlap_seconds))


@router.post("/partner/webhooks/{endpoint_id}/enable", response_model=webhooks.Endpoint, **partner_doc(404))
async def enable_webhook(
    endpoint_id: int = EndpointId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> webhooks.Endpoint:
    return await webhooks.enable(ctx, me.id, endpoint_id)


@router.get(
    "/partner/webhooks/{endpoint_id}/deliveries",
    response_model=list[webhooks.DeliveryInfo],
    **partner_doc(404),
)
async def webhook_deliveries(
    endpoint_id: int = EndpointId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> list[webhooks.DeliveryInfo]:
    return await webhooks.deliveries(ctx, me.id, endpoint_id)


@router.post("/partner/webhooks/{endpoint_id}/recover", response_model=RecoveredOut, **partner_doc(404, 422))
async def recover_webhook(
    body: RecoverIn, endpoint_id: int = EndpointId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> RecoveredOut:
    return RecoveredOut(events=await webhooks.recover(ctx, me.id, endpoint_id, body.since))


@router.post("/partner/webhook-deliveries/{delivery_id}/resend", status_code=204, **partner_doc(404))
async def resend_delivery(
    delivery_id: int = DeliveryId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> Response:
    await webhooks.resend(ctx, me.id, delivery_id)
    return Response(status_code=204)


@router.get(
    "/partners/{partner_id}/webhooks", response_model=list[webhooks.Endpoint], **roles_doc(Role.OPERATOR)
)
async def operator_webhooks(
    partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> list[webhooks.Endpoint]:
    """A partner's endpoints, the disabled ones with when and why."""
    return await webhooks.list_for(ctx, partner_id)


@router.post(
    "/partners/{partner_id}/webhooks/{endpoint_id}/recover",
    response_model=RecoveredOut,
    **roles_doc(Role.OPERATOR, errors=(404, 422)),
)
async def operator_recover(
    body: RecoverIn,
    partner_id: int = PartnerId,
    endpoint_id: int = EndpointId,
    _: Principal = OperatorOnly,
    ctx: Context = Ctx,
) -> RecoveredOut:
    return RecoveredOut(events=await webhooks.recover(ctx, partner_id, endpoint_id, body.since))


@router.post(
    "/partners/{partner_id}/webhook-deliveries/{delivery_id}/resend",
    status_code=204,
    **roles_doc(Role.OPERATOR, errors=(404,)),
)
async def operator_resend(
    partner_id: int = PartnerId,
    delivery_id: int = DeliveryId,
    _: Principal = OperatorOnly,
    ctx: Context = Ctx,
) -> Response:
    await webhooks.resend(ctx, partner_id, delivery_id)
    return Response(status_code=204)
