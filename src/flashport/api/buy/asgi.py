"""A purchase request as ASGI delivers it, for the two lanes behind uvicorn's protocol (the fast lane
and the FastAPI route): the two headers that matter and the body, kept up to ``MAX_BODY`` bytes."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Receive, Send

from flashport.api.buy.answer import Answer
from flashport.api.buy.request import MAX_BODY

_JSON = (b"content-type", b"application/json")


def buy_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes | None]:
    """``Authorization`` and ``Idempotency-Key`` from ASGI's (lower-cased) header list; of a header sent
    twice the last one counts, as on the edge."""
    authorization = key = None
    for name, value in headers:
        if name == b"authorization":
            authorization = value
        elif name == b"idempotency-key":
            key = value
    return authorization, key


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The body, and whether it went past ``MAX_BODY``. Reading stops there: the server drops the rest."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks), False


async def send_answer(send: Send, answer: Answer) -> None:
    headers = [_JSON, (b"content-length", b"%d" % len(answer.body))]
    headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
