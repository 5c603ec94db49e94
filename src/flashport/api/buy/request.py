"""The one reader of a purchase request, ``POST /api/v1/sale-items/{id}/buy``, for all three lanes.

The edge, the ASGI fast lane and the FastAPI route each collect the same four things from the wire
(the item id as written in the path, the ``Authorization`` and ``Idempotency-Key`` headers and the raw
body) and hand them here, so the same bytes get the same answer whichever lane took them.

The rules, checked in this order (the first broken one is the answer):

1. ``Authorization: Bearer <token>``, a valid token of a buyer: else 401 (``missing_token``,
   ``invalid_token``) or 403 (``forbidden_role``).
2. The item id is a whole number from 1 to 2**63 - 1 written in ASCII digits: else 422
   ``validation_error`` on ``item_id``. (A well-formed id of no item is the service's 404.)
3. The body is at most :data:`MAX_BODY` bytes (422 ``payload_too_large``) and is a JSON object
   (422 ``validation_error`` on ``body``; an empty body is refused too). Its ``Content-Type`` is not
   looked at: the bytes decide.
4. ``quantity``, 1 when absent, is a JSON integer: not a string, a float (``2.0``), a boolean or null
   (422 ``validation_error`` on ``quantity``); then from 1 to ``MAX_UNITS_PER_ORDER`` (422
   ``invalid_quantity``). ``admission``, when present, is a string of at most 256 characters (422
   ``validation_error``): the waiting room's token, which a hot item needs (403 without it, checked by
   the service). Other members of the object are ignored.
5. ``Idempotency-Key`` is present and not blank (422 ``idempotency_key_required``) and, with the
   surrounding spaces removed, 1 to 128 printable ASCII characters (422 ``invalid_idempotency_key``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from flashport.domain.accounts import Role
from flashport.domain.errors import DomainError, FieldProblem, InvalidInput, Unauthenticated
from flashport.domain.orders import check_idempotency_key, check_quantity
from flashport.http_errors import ErrorAnswer, answer_for
from flashport.services.accounts.tokens import verify_token
from flashport.services.context import Context

MAX_BODY = 4096  # bytes; ``{"quantity": 99}`` is 16
MAX_ITEM_ID = 2**63 - 1  # ids are 64-bit signed integers in both databases


@dataclass(slots=True)  # not frozen: that triples the cost of making one, and one is made per purchase
class BuyRequest:
    """A purchase request that passed every check the request alone can answer; the stock, the sale
    window and the buyer's limit are the service's to judge."""

    buyer_id: int
    item_id: int
    quantity: int
    key: str
    admission: str | None = None  # the waiting room's token: hot items need it (services/waiting_room)


def read_purchase(
    ctx: Context,
    item_id: str | bytes,
    authorization: bytes | None,
    key: bytes | None,
    body: bytes,
    too_large: bool = False,
) -> BuyRequest | ErrorAnswer:
    """Check a purchase request against the rules above. ``item_id`` is the path segment as the lane
    matched it; ``too_large`` says the lane stopped keeping the body after :data:`MAX_BODY` bytes."""
    try:
        buyer_id = buyer_of(ctx, authorization)
        item = item_id_of(item_id)
        if too_large:
            raise InvalidInput("request body too large", code="payload_too_large")
        quantity, admission = body_of(body)
        return BuyRequest(buyer_id, item, quantity, key_of(key), admission)
    except DomainError as exc:
        return answer_for(exc)


def buyer_of(ctx: Context, authorization: bytes | None) -> int:
    if not authorization or authorization[:7].lower() != b"bearer ":
        raise Unauthenticated("this endpoint needs a bearer token", code="missing_token")
    token = authorization[7:].strip().decode("latin-1")
    if not token:
        raise Unauthenticated("this endpoint needs a bearer token", code="missing_token")
    who = verify_token(ctx.settings, token, ctx.clock(), ctx.sessions)
    who.require(Role.BUYER)
    return who.user_id


def item_id_of(segment: str | bytes) -> int:
    # isascii first: str.isdigit() is also true of other scripts' digits ("١٢"), which int() accepts.
    if segment.isascii() and segment.isdigit() and len(segment) <= 19:
        item_id = int(segment)
        if 1 <= item_id <= MAX_ITEM_ID:
            return item_id
    raise _invalid("item_id", f"a sale item id: a whole number from 1 to {MAX_ITEM_ID}")


def quantity_of(body: bytes) -> int:
    return body_of(body)[0]


def body_of(body: bytes) -> tuple[int, str | None]:
    """The quantity and, for a hot item, the ``admission`` token (a string; anything else is refused)."""
    data = _json_of(body)
    if not isinstance(data, dict):
        raise _invalid("body", 'expected a JSON object such as {"quantity": 1}')
    quantity = _quantity_in(data, body)
    admission = data.get("admission")
    if admission is not None and (type(admission) is not str or len(admission) > 256):
        raise _invalid("admission", "the admission token the waiting room gave, as a string")
    return quantity, admission


def _quantity_in(data: dict[str, Any], body: bytes) -> int:
    quantity = data.get("quantity", 1)
    if type(quantity) is float:
        quantity = _exact_quantity(body)
    if type(quantity) is not int:  # not isinstance: True and False are ints to Python, not to JSON
        raise _invalid("quantity", "Input should be a valid integer")
    check_quantity(quantity)
    return quantity


def key_of(key: bytes | None) -> str:
    text = check_idempotency_key(key.decode("latin-1") if key is not None else None)  # required, <= 128
    if not (text.isascii() and text.isprintable()):  # printable ASCII: space to tilde
        raise InvalidInput(
            "Idempotency-Key may hold only printable ASCII characters",
            code="invalid_idempotency_key",
            details=[FieldProblem("Idempotency-Key", "1 to 128 printable ASCII characters, e.g. a UUID")],
        )
    return text


def _json_of(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        message = "a JSON object is required" if not body.strip() else "the body is not valid JSON"
        raise _invalid("body", message + ', such as {"quantity": 1}') from None


def _exact_quantity(body: bytes) -> Any:
    """orjson reads an integer beyond 64 bits as a float; the standard library reads it exactly, so a
    huge quantity is refused as out of range and ``2.0`` as not an integer. Only refusals get here."""
    return json.loads(body).get("quantity")


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        "the request has invalid fields", code="validation_error", details=[FieldProblem(field, message)]
    )
