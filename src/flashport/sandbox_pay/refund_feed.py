"""The payment company as a partner of the platform: it follows its partner feed (``GET
/api/v1/partner/feed`` with its key and a cursor) and makes every refund the platform asks for there
(``refund.requested``), a page at a time, instead of being called once per refund. The platform learns
the outcome with Alipay's refund query (``alipay.trade.fastpay.refund.query``).

At least once, never twice: a page's refunds are made first, then the cursor is moved past the page.
A consumer stopped in the middle of a page takes the page again from the stored cursor, and each refund
is made once per ``out_request_no`` (the refunds table's unique key), so a replayed or duplicated
event moves no money twice. A refund that cannot be made is kept with its reason (see
:meth:`SandboxProvider.refund_asked`), so it surfaces on the platform instead of vanishing.

Failure policy: the platform down, a 5xx or an unreadable page leaves the cursor where it is; the next
round asks again after the pause. A refused key (401/403) is logged as an error each round: an operator
must issue the payment company a key. An event without the fields a refund needs is logged as an
error and skipped (nothing could be made of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from flashport.adapters.tls import tls
from flashport.sandbox_pay.provider import SandboxProvider
from flashport.sandbox_pay.trades import fen_from_yuan

log = logging.getLogger(__name__)

FEED_PATH = "/api/v1/partner/feed"
REFUND_REQUESTED = "refund.requested"


@dataclass(frozen=True)
class RefundAsked:
    trade_no: str
    out_request_no: str
    amount_fen: int
    reason: str | None


@dataclass(frozen=True)
class Page:
    refunds: list[RefundAsked]
    next_cursor: str | None
    has_more: bool


class FeedUnavailable(Exception):
    """The feed could not be read this round."""


def refund_asked(event: Any) -> RefundAsked | None:
    """The refund a ``refund.requested`` event asks for; None when the event lacks what it needs."""
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        return None
    trade_no, out_request_no = data.get("trade_no"), data.get("out_request_no")
    amount = fen_from_yuan(str(data.get("amount", "")))
    if not trade_no or not out_request_no or amount is None or amount <= 0:
        return None
    reason = data.get("reason")
    return RefundAsked(str(trade_no), str(out_request_no)[:64], amount, str(reason)[:256] if reason else None)


class RefundFeed:
    def __init__(
        self,
        provider: SandboxProvider,
        platform_url: str,
        partner_key: str,
        *,
        page_size: int = 200,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._provider = provider
        self._feed = platform_url.rstrip("/")
        self._page_size = page_size
        self._client = httpx.AsyncClient(
            base_url=self._feed,
            timeout=10,
            transport=transport,
            headers={"x-api-key": partner_key},
            verify=tls(),
        )

    async def consume_page(self) -> tuple[int, bool]:
        """Make the refunds of one page of the feed: (events read, whether more are waiting)."""
        record = self._provider.feed
        cursor = await record.cursor(self._feed)
        page = await self._read(cursor)
        if not page.next_cursor or page.next_cursor == cursor:
            return 0, False
        for asked in page.refunds:
            made = await self._provider.refund_asked(
                asked.trade_no, asked.out_request_no, asked.amount_fen, asked.reason
            )
            if not made:
                log.error("refund %s of trade %s could not be made", asked.out_request_no, asked.trade_no)
        if not await record.move_cursor(self._feed, cursor, page.next_cursor, self._provider.clock()):
            return len(page.refunds), True  # another consumer moved on meanwhile: read on from there
        return len(page.refunds), page.has_more

    async def _read(self, cursor: str | None) -> Page:
        params: dict[str, str | int] = {"limit": self._page_size, "type": REFUND_REQUESTED}
        if cursor:
            params["after"] = cursor
        try:
            answer = await self._client.get(FEED_PATH, params=params)
        except httpx.HTTPError as exc:
            raise FeedUnavailable(f"platform unreachable: {exc!r}") from exc
        if answer.status_code != 200:
            raise FeedUnavailable(f"platform answered {answer.status_code}: {answer.text[:200]}")
        try:
            body = answer.json()
            asked = []
            for item in body["items"]:
                if item["type"] != REFUND_REQUESTED:
                    continue
                refund = refund_asked(item)
                if refund is None:
                    log.error("feed event %s asks for a refund without its fields", item.get("id"))
                else:
                    asked.append(refund)
            return Page(asked, body["next_cursor"], bool(body["has_more"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedUnavailable(f"feed page unreadable: {exc!r}") from exc

    async def run(self, pause_seconds: float, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: pages one after another while more are waiting, then a pause."""
        while not stop.is_set():
            more = False
            try:
                _, more = await self.consume_page()
            except FeedUnavailable as exc:
                log.error("the payment company could not read its feed: %s", exc)
            except Exception:
                log.exception("a page of the payment company's feed failed")
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause_seconds)

    async def close(self) -> None:
        await self._client.aclose()
