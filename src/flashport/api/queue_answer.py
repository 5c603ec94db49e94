"""A waiting room's join and poll in their common case, answered before FastAPI: by the ASGI fast lane
(``api/queue_lane.py``) and by the buy edge (``api/buy/edge.py``), which serves a buyer's whole
connection (join, polls, purchase) without handing it to uvicorn.

The common case is a buyer's valid bearer token and a join with no body or an empty JSON object.
Everything else (no token or another scheme, a forged or expired token, another role, a join answering
a challenge) is the FastAPI route's to answer, the one documented way: :func:`buyer_of` and
:func:`empty_join` say which before anything is done. What the service then answers (a status, or a
refusal such as no waiting room, queue not open) the edge writes through the same error mapping as the
app (``http_errors.answer_for``); ``tests/integration/test_queue_lane.py`` holds the three to the same
bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flashport.adapters.failures import dependency_down
from flashport.api.buy.answer import Answer, refusal
from flashport.api.routes.waiting_room import status_bytes
from flashport.domain.accounts import Principal, Role
from flashport.domain.errors import DomainError
from flashport.http_errors import ErrorAnswer, answer_for, dependency_down_answer
from flashport.services.accounts.sessions import check_standing
from flashport.services.accounts.tokens import verify_token
from flashport.services.context import Context
from flashport.services.waiting_room import queue

log = logging.getLogger(__name__)

QUEUE_ROUTE = "/api/v1/sale-items/{item_id}/queue"  # its metrics label, as the router would set it
MAX_ITEM_ID = 2**63 - 1
LONGEST_EMPTY = 16  # a join body longer than this is not empty: the route reads it
CACHING = ("cache-control", "private, no-cache")
INTERNAL_ERROR = refusal(ErrorAnswer(500, "internal_error", "something went wrong; try again"))


@dataclass(frozen=True, slots=True)
class QueueAsk:
    """One join (``join``) or poll of a buyer, read and checked, waiting to be answered."""

    item_id: int
    who: Principal
    join: bool
    address: str | None  # the client's (behind a trusted proxy, the one it names)
    if_none_match: str | None


def empty_join(body: bytes, content_type: bytes | None) -> bool:
    """No body, or ``{}`` sent as JSON: the join the fast paths take (anything else the route reads)."""
    stripped = body.strip()
    if not stripped:
        return True
    return (
        stripped == b"{}" and (content_type or b"").partition(b";")[0].strip().lower() == b"application/json"
    )


def buyer_of(ctx: Context, authorization: bytes | None) -> Principal | None:
    """The buyer a bearer token names (signature, expiry, revocations: memory only), or None when the
    route is to answer."""
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        who = verify_token(ctx.settings, token, ctx.clock(), ctx.sessions)
    except DomainError:
        return None
    return who if who.role is Role.BUYER else None


async def status_of(ctx: Context, ask: QueueAsk) -> queue.QueueStatus:
    """The buyer's standing checked, then the join or poll done: what both fast paths answer with."""
    await check_standing(ctx, ask.who)
    if ask.join:
        return await queue.join(ctx, ask.who.user_id, ask.item_id, ask.address)
    return await queue.status(ctx, ask.who.user_id, ask.item_id)


async def answer_queue(ctx: Context, ask: QueueAsk) -> Answer:
    """The status as the route sends it (ETag, 304 when ``If-None-Match`` has it), or the refusal."""
    try:
        found = await status_of(ctx, ask)
    except DomainError as exc:
        return refusal(answer_for(exc))
    except Exception as exc:
        if dependency_down(exc):
            log.warning("queue of item %s: dependency down: %r", ask.item_id, exc)
            return refusal(dependency_down_answer())
        log.exception("queue of item %s failed", ask.item_id)
        return INTERNAL_ERROR
    content, etag = status_bytes(found)
    headers = (("etag", etag), CACHING)
    if ask.if_none_match == etag:
        return Answer(304, b"", headers)
    return Answer(200, content, headers)
