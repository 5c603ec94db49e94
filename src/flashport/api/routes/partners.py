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
from flashport.services.partners import feed, keys, registry, views

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
