"""Partners: operators register them and manage their API keys (``/api/v1/partners``); partners, with
a key, read their own slice (``/api/v1/partner/...``). Handlers parse, call one service function, and
return."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "name": "SF Express",
                    "kind": "carrier",
                    "supplier_id": None,
                    "logistics_code": "SF",
                    "pay_code": None,
                    "is_active": True,
                    "created_at": "2026-12-03T06:00:00Z",
                }
            ]
        }
    )
    id: int
    name: str
    kind: PartnerKind
    supplier_id: int | None
    logistics_code: str | None
    pay_code: str | None
    is_active: bool
    created_at: datetime


class KeyIn(Input):
    label: str = Field("", max_length=100, examples=["ERP production"], description="a name for the key")


class RotateIn(Input):
    overlap_seconds: int = Field(
        24 * 3600,
        ge=0,
        le=int(keys.MAX_OVERLAP.total_seconds()),
        description="how long the old key still works",
    )


class IssuedKeyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": 7, "key_id": "fpk_1a2b3c4d", "key": "fpk_1a2b3c4d_9Qe...", "expires_old_at": None}
            ]
        }
    )
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
    """Register a supplier, carrier, payment company or customs broker, linked to the one thing its scope is
    computed from: a supplier to `supplier_id`, a carrier to its `logistics_code`, the payment company to
    its `pay_code`. 409 if the name is taken, 422 if the link does not fit the kind."""
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
    """Every registered partner, its kind and what it is linked to."""
    return await registry.list_all(ctx)


@router.get("/partners/{partner_id}", response_model=PartnerOut, **roles_doc(Role.OPERATOR, errors=(404,)))
async def get_partner(
    partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> Partner:
    """One partner; 404 `partner_not_found` if there is none with this id."""
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
    """The partner's keys work again (the ones neither revoked nor expired)."""
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
    """A new API key for the partner. The key is in this answer only; Flashport keeps a keyed hash of it. The
    partner sends it as `Authorization: Bearer fpk_...` or `X-Api-Key`."""
    return await keys.issue(ctx, partner_id, body.label)


@router.get("/partners/{partner_id}/keys", response_model=list[KeyOut], **roles_doc(Role.OPERATOR))
async def list_keys(
    partner_id: int = PartnerId, _: Principal = OperatorOnly, ctx: Context = Ctx
) -> list[keys.KeyInfo]:
    """The partner's keys without their secret part: when made, expiring (after a rotation), revoked, last
    used."""
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
    """The key stops working at once."""
    await keys.revoke(ctx, partner_id, key_pk)
    return Response(status_code=204)


# --- partners, with a key ------------------------------------------------------------------------


@router.get("/partner/me", response_model=PartnerOut, **partner_doc())
async def who_am_i(me: Partner = PartnerOnly) -> Partner:
    """The partner this key belongs to."""
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
        default_factory=list,
        max_length=100,
        description="types wanted, e.g. order.paid; empty: all",
        examples=[["declaration.released", "order.shipped"]],
    )


class SecretRotationIn(Input):
    overlap_seconds: int = Field(
        24 * 3600, ge=0, le=7 * 24 * 3600, description="how long the old secret signs too"
    )


class RecoverIn(Input):
    since: datetime = Field(
        description="queue again every event that occurred at or after this time",
        examples=["2026-12-03T00:00:00Z"],
    )


class RecoveredOut(BaseModel):
    events: int = Field(description="events queued again", examples=[42])


@router.post(
    "/partner/webhooks", status_code=201, response_model=webhooks.EndpointWithSecret, **partner_doc(422)
)
async def create_webhook(
    body: EndpointIn, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> webhooks.EndpointWithSecret:
    """Register a Standard Webhooks endpoint for this partner's events (all of them, or the `event_types`
    listed). The signing secret (`whsec_...`) is in this answer only, and kept sealed at rest. The URL
    must be https in production; loopback, private, link-local and cloud-metadata addresses are refused
    (422 `webhook_address_refused`) unless the platform allows private addresses; the host is resolved
    and checked again at every delivery, and redirects are not followed. The endpoint gets events from
    now on (older ones: `recover`). The payload: see the `partner-event` webhook in this document."""
    return await webhooks.create(ctx, me.id, body.url, body.event_types)


@router.get("/partner/webhooks", response_model=list[webhooks.Endpoint], **partner_doc())
async def list_webhooks(me: Partner = PartnerOnly, ctx: Context = Ctx) -> list[webhooks.Endpoint]:
    """This partner's webhook endpoints; a disabled one says when and why (410 from the receiver, or three
    days without a success)."""
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
    """Enable a disabled endpoint: deliveries that waited while it was disabled are sent, in the retry
    schedule from the start."""
    return await webhooks.enable(ctx, me.id, endpoint_id)


@router.get(
    "/partner/webhooks/{endpoint_id}/deliveries",
    response_model=list[webhooks.DeliveryInfo],
    **partner_doc(404),
)
async def webhook_deliveries(
    endpoint_id: int = EndpointId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> list[webhooks.DeliveryInfo]:
    """The endpoint's latest deliveries (newest first), with their `webhook-id`, attempts, next attempt and
    the receiver's last answer."""
    return await webhooks.deliveries(ctx, me.id, endpoint_id)


@router.post("/partner/webhooks/{endpoint_id}/recover", response_model=RecoveredOut, **partner_doc(404, 422))
async def recover_webhook(
    body: RecoverIn, endpoint_id: int = EndpointId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> RecoveredOut:
    """Queue again every event since a time that this endpoint already had (in batches, under new webhook-
    ids): for a receiver that lost data. Answers how many events were queued."""
    return RecoveredOut(events=await webhooks.recover(ctx, me.id, endpoint_id, body.since))


@router.post("/partner/webhook-deliveries/{delivery_id}/resend", status_code=204, **partner_doc(404))
async def resend_delivery(
    delivery_id: int = DeliveryId, me: Partner = PartnerOnly, ctx: Context = Ctx
) -> Response:
    """Send one delivery again now, under its same `webhook-id` (a receiver that has it drops it)."""
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
    """An operator's recovery for a partner's endpoint: as `POST /partner/webhooks/{endpoint_id}/recover`."""
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
    """An operator resends one of a partner's deliveries: as `POST /partner/webhook-
    deliveries/{delivery_id}/resend`."""
    await webhooks.resend(ctx, partner_id, delivery_id)
    return Response(status_code=204)


# --- the webhook payload, as documented in OpenAPI's `webhooks` -------------------------------------


class WebhookEvent(BaseModel):
    """One event, the same as in the pull feed."""

    id: str = Field(
        description="evt_<n>: stable, the same in the feed and in every delivery", examples=["evt_812"]
    )
    type: str = Field(examples=["order.shipped"])
    subject: str = Field(
        description="what it is about: order:<order_no>, stock:<sku>:<warehouse>, partner:<id>"
    )
    subject_seq: int = Field(description="1, 2, 3... per subject for this partner: order them, spot gaps")
    occurred_at: datetime
    data: dict[str, Any] = Field(description="thin, scoped to the partner: fetch `link` for the rest")
    link: str | None = Field(examples=["/api/v1/partner/orders/FP20261203064709637F126CD9"])


class WebhookBatch(BaseModel):
    events: list[WebhookEvent]


class WebhookBody(BaseModel):
    """The body of a delivery: one event, or (``"type": "batch"``) several when the partner is far
    behind."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "order.shipped",
                    "timestamp": "2026-12-03T06:47:09Z",
                    "data": {
                        "id": "evt_812",
                        "type": "order.shipped",
                        "subject": "order:FP20261203064709637F126CD9",
                        "subject_seq": 3,
                        "occurred_at": "2026-12-03T06:47:09Z",
                        "data": {"order_no": "FP20261203064709637F126CD9", "logistics_no": "SF1234567890"},
                        "link": "/api/v1/partner/orders/FP20261203064709637F126CD9",
                    },
                }
            ]
        }
    )
    type: str = Field(description="the event's type, or `batch`")
    timestamp: datetime
    data: WebhookEvent | WebhookBatch


webhooks_doc = APIRouter()


@webhooks_doc.post("partner-event", status_code=204)
def partner_event(
    body: WebhookBody,
    webhook_id: str = Header(description="msg_...: the same on every retry; drop a repeat by it"),
    webhook_timestamp: str = Header(description="seconds since the epoch when this attempt was signed"),
    webhook_signature: str = Header(
        description="`v1,<base64 HMAC-SHA256 of id.timestamp.body>` per secret, space-separated "
        "(two while a secret rotates)"
    ),
) -> None:
    """What Flashport POSTs to a partner's endpoint (Standard Webhooks). Verify it with the endpoint's
    `whsec_` secret, e.g. `standardwebhooks.Webhook(secret).verify(body, headers)` (examples/
    webhook_receiver.py), drop a `webhook-id` already handled, and answer 2xx within 10 s. Anything
    else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (a 429's or 503's `Retry-After`
    honoured); 410 disables the endpoint; three days without a success too, and the partner's feed
    says so (`webhook_endpoint.disabled`)."""
