"""The waiting room's API (docs/waiting-room.md): operators mark items or events hot and read a room's
figures; buyers join the queue and poll it (a small JSON answer with an ETag, 304 when unchanged)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from flashport.api.deps import BuyerOnly, OperatorOnly, get_ctx, roles_doc
from flashport.api.rate_limited import address_of
from flashport.domain.accounts import Principal, Role
from flashport.services.context import Context
from flashport.services.waiting_room import queue, rooms

router = APIRouter(prefix="/api/v1", tags=["waiting room"])
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class RoomIn(BaseModel):
    opens_before_seconds: int | None = Field(
        default=None, ge=0, description="the pre-queue opens this long before the start (default: setting)"
    )
    admit_per_second: float | None = Field(
        default=None, gt=0, description="buyers admitted a second; null: derived from measured sales"
    )
    token_seconds: int | None = Field(default=None, ge=10, le=3600, description="admission token lifetime")


class RoomOut(BaseModel):
    item_id: int
    enabled: bool
    opens_before_seconds: int
    admit_per_second: float | None
    token_seconds: int
    shuffled_at: datetime | None
    queued: int = Field(description="buyers who took a place")
    pre_queue: int = Field(description="of them, still waiting for the start's shuffle")
    admitted: int = Field(description="places admitted so far")
    rate: float = Field(description="the admission rate now (places a second)")
    challenged: int = Field(description="joins that were put a proof-of-work challenge")
    passed: int = Field(description="challenges answered right")


class JoinIn(BaseModel):
    challenge: str | None = Field(default=None, max_length=300)
    solution: str | None = Field(default=None, max_length=32)


def _settings(body: RoomIn) -> rooms.RoomSettings:
    return rooms.RoomSettings(body.opens_before_seconds, body.admit_per_second, body.token_seconds)


@router.put(
    "/sale-items/{item_id}/waiting-room",
    response_model=RoomOut,
    summary="Mark an item hot: buying it needs an admission token from its queue",
    **roles_doc(Role.OPERATOR, errors=(404, 422)),
)
async def put_room(
    item_id: ItemId, body: RoomIn, who: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)
) -> rooms.RoomFigures:
    return await rooms.mark_hot(ctx, who.user_id, item_id, _settings(body))


@router.put(
    "/events/{event_id}/waiting-room",
    response_model=list[RoomOut],
    summary="Mark every item of an event hot, with the same terms",
    **roles_doc(Role.OPERATOR, errors=(404, 422)),
)
async def put_event_rooms(
    event_id: EventId, body: RoomIn, who: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)
) -> list[rooms.RoomFigures]:
    return await rooms.mark_event_hot(ctx, who.user_id, event_id, _settings(body))


@router.get(
    "/sale-items/{item_id}/waiting-room",
    response_model=RoomOut,
    summary="A room's figures: queue, admission, bot friction",
    **roles_doc(Role.OPERATOR, errors=(404,)),
)
async def get_room(
    item_id: ItemId, who: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)
) -> rooms.RoomFigures:
    return await rooms.figures(ctx, item_id)


@router.delete(
    "/sale-items/{item_id}/waiting-room",
    status_code=204,
    summary="Take the hot mark off: buying no longer needs admission",
    **roles_doc(Role.OPERATOR, errors=(404,)),
)
async def delete_room(
    item_id: ItemId, who: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)
) -> Response:
    await rooms.unmark(ctx, who.user_id, item_id)
    return Response(status_code=204)


@router.post(
    "/sale-items/{item_id}/queue",
    summary="Join a hot item's queue (one place per buyer; a repeat returns the same place)",
    description="The answer is the queue status (as `GET`). `state` is `challenge` when the join looks "
    "automated: find a `solution` such that SHA-256 of `<challenge>:<solution>` starts with the "
    "challenge's number of zero bits (its fourth dot-separated field), and post both back. Errors: "
    "`waiting_room_not_found` (404), `queue_not_open`, `sale_ended` (409), `invalid_challenge`, "
    "`challenge_expired`, `wrong_solution` (422).",
    **roles_doc(Role.BUYER, errors=(404, 409, 422)),
)
async def join_queue(
    item_id: ItemId, request: Request, body: JoinIn | None = None, who: Principal = BuyerOnly,
    ctx: Context = Depends(get_ctx),
) -> Response:  # fmt: skip
    asked = body or JoinIn()
    found = await queue.join(ctx, who.user_id, item_id, address_of(request), asked.challenge, asked.solution)
    return status_answer(request, found)


@router.get(
    "/sale-items/{item_id}/queue",
    summary="Where the calling buyer stands: position, estimated wait, the admission token once admitted",
    description="Cheap to poll (memory only once the place is known): honour `poll_seconds`, and send "
    "`If-None-Match` with the last `ETag` to get 304 when nothing changed. `state`: `pre_queue`, "
    "`waiting`, `admitted` (with `admission_token`: put it as `admission` in the purchase's body), "
    "`sold_out` (every unit is reserved: `waitlist_url`), `not_joined`.",
    **roles_doc(Role.BUYER, errors=(404,)),
)
async def queue_status(
    item_id: ItemId, request: Request, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> Response:
    return status_answer(request, await queue.status(ctx, who.user_id, item_id))


def status_body(found: queue.QueueStatus) -> dict[str, object]:
    body: dict[str, object] = {
        "item_id": found.item_id,
        "state": found.state.value,
        "position": found.position,
        "estimated_wait_seconds": found.estimated_wait_seconds,
        "starts_at": found.starts_at,
        "poll_seconds": found.poll_seconds,
    }
    if found.admission_token is not None:
        body["admission_token"] = found.admission_token
        body["admission_expires_at"] = found.admission_expires_at
        body["buy_url"] = f"/api/v1/sale-items/{found.item_id}/buy"
    if found.challenge is not None:
        body["challenge"] = found.challenge
    if found.state is queue.QueueState.SOLD_OUT:
        body["waitlist_url"] = f"/items/{found.item_id}#waitlist"
    return body


def status_bytes(found: queue.QueueStatus) -> tuple[bytes, str]:
    """The status as JSON and its ETag: what the route and the fast lane (``api/queue_lane.py``) send."""
    content = orjson.dumps(status_body(found), option=orjson.OPT_UTC_Z)
    return content, '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"'


def status_answer(request: Request, found: queue.QueueStatus) -> Response:
    content, etag = status_bytes(found)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)
