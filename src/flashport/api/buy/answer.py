"""The answer to a purchase request, as status, JSON bytes and headers, the same for every lane.

Each lane only moves bytes: it collects what :func:`answer_purchase` needs from the wire and writes
back what it returns, with ``content-type: application/json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

from flashport.adapters.failures import dependency_down
from flashport.api.buy.request import read_purchase
from flashport.domain.errors import DomainError
from flashport.domain.rate_limits import Action
from flashport.http_errors import ErrorAnswer, answer_for, dependency_down_answer
from flashport.services.context import Context
from flashport.services.sales import buying

log = logging.getLogger(__name__)


@dataclass(slots=True)  # not frozen: that triples the cost of making one, and one is made per purchase
class Answer:
    status: int
    body: bytes  # JSON
    headers: tuple[tuple[str, str], ...] = ()  # besides content-type and content-length


async def answer_purchase(
    ctx: Context,
    item_id: str | bytes,
    authorization: bytes | None,
    key: bytes | None,
    body: bytes,
    too_large: bool = False,
    address: str | None = None,
) -> Answer:
    """Read the request (:func:`read_purchase`), take a token from the buyer's and the client
    ``address``'s buckets (429 ``rate_limited`` when either is empty), buy, and say so: 201 with the
    order when this request created it, the same 201 and body again for a retry (with
    ``Idempotent-Replayed: true``), an error body for a
    refusal, and for anything unforeseen a logged 500 that tells the buyer to retry with the same key
    (which cannot buy twice)."""
    request = read_purchase(ctx, item_id, authorization, key, body, too_large)
    if isinstance(request, ErrorAnswer):
        return refusal(request)
    try:
        await ctx.limits.check(Action.BUY, ctx.clock(), account=request.buyer_id, address=address)
        # Through the module, not a name bound at import: tests hold purchases by replacing buying.buy.
        bought = await buying.buy(
            ctx, request.buyer_id, request.item_id, request.quantity, request.key, request.admission
        )
    except DomainError as exc:
        return refusal(answer_for(exc))
    except Exception as exc:
        if dependency_down(exc):  # fail closed: nothing was bought (the key makes a retry safe)
            log.warning("purchase of item %s: dependency down: %r", request.item_id, exc)
            return refusal(dependency_down_answer())
        log.exception("purchase of item %s failed", request.item_id)
        return INTERNAL_ERROR
    body = orjson.dumps(bought.order, option=orjson.OPT_UTC_Z)
    return Answer(201, body) if bought.created else Answer(201, body, REPLAYED)


# A retry gets the first answer again, status and body (Idempotency-Key draft standard); this header
# tells a client that cares that it is a replay.
REPLAYED = (("idempotent-replayed", "true"),)


def refusal(error: ErrorAnswer) -> Answer:
    return Answer(error.status, orjson.dumps(error.body()), error.headers)


INTERNAL_ERROR = refusal(
    ErrorAnswer(500, "internal_error", "something went wrong; retry with the same Idempotency-Key")
)
