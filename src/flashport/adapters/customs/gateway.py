"""The connection to customs' single window, behind one small interface.

An enterprise sends declarations (CEB311/411/511/621) into the data-exchange platform (DXP) under its
DXP id, and customs answers with receipts (CEB312/412/512/622) put in that id's inbox, later and in
order. :class:`CustomsGateway` is exactly that: ``send`` a message, ``fetch`` the inbox after a cursor.

:class:`HttpCustomsGateway` speaks the simulator's HTTP binding (``flashport.sandbox_customs``):

* ``POST {base}/dxp/messages`` with the XML as body (``application/xml``): 202 when customs took the
  message (its verdict comes as a receipt), 400 with ``{"code", "message"}`` when it is not a CEB
  message at all.
* ``GET {base}/dxp/inbox/{dxp_id}?after=N&limit=M``: ``{"items": [{"seq", "kind", "message"}],
  "last_seq"}``, receipts with ``seq > after`` in ``seq`` order.

A real connection (a DXP client or a licensed relay) is another implementation of the same interface.
Failures raise :class:`CustomsUnavailable` (retry later) or :class:`CustomsRefused` (the message itself
was refused; retrying the same bytes will not help).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from flashport.adapters.tls import tls


class CustomsUnavailable(Exception):
    """The single window could not be reached or answered with a server error."""


class CustomsRefused(Exception):
    """The single window refused the message outright (not a CEB message, unknown sender...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InboxItem:
    seq: int  # position in the inbox; fetch(after=seq) continues after it
    kind: str  # CEB312, CEB412, CEB512, CEB622
    message: bytes


class CustomsGateway(Protocol):
    async def send(self, message: bytes) -> None:
        """Hand one signed or unsigned CEB message to customs."""

    async def fetch(self, dxp_id: str, after: int, limit: int = 100) -> list[InboxItem]:
        """Receipts for ``dxp_id`` with a sequence number above ``after``, oldest first."""

    async def close(self) -> None:
        """Release connections."""


class HttpCustomsGateway:
    """The simulator's HTTP binding. ``transport`` lets tests and the demo call an in-process app."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, verify=tls()
        )

    async def send(self, message: bytes) -> None:
        try:
            answer = await self._client.post(
                "/dxp/messages", content=message, headers={"content-type": "application/xml"}
            )
        except httpx.HTTPError as exc:
            raise CustomsUnavailable(f"single window unreachable: {exc!r}") from exc
        if answer.status_code >= 500:
            raise CustomsUnavailable(f"single window answered {answer.status_code}")
        if answer.status_code >= 400:
            raise CustomsRefused(*_error_of(answer))

    async def fetch(self, dxp_id: str, after: int, limit: int = 100) -> list[InboxItem]:
        try:
            answer = await self._client.get(f"/dxp/inbox/{dxp_id}", params={"after": after, "limit": limit})
        except httpx.HTTPError as exc:
            raise CustomsUnavailable(f"single window unreachable: {exc!r}") from exc
        if answer.status_code != 200:
            raise CustomsUnavailable(f"single window inbox answered {answer.status_code}")
        try:
            items = answer.json()["items"]
            return [InboxItem(int(i["seq"]), str(i["kind"]), str(i["message"]).encode()) for i in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise CustomsUnavailable(f"single window inbox unreadable: {exc!r}") from exc

    async def close(self) -> None:
        await self._client.aclose()


def _error_of(answer: httpx.Response) -> tuple[str, str]:
    try:
        body = answer.json()
        return str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        return f"http_{answer.status_code}", answer.text[:500]
