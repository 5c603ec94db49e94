"""The carrier as a partner of the platform: it follows its partner feed (``GET
/api/v1/partner/feed`` with its key and a cursor) and takes over every parcel the platform hands it
(``order.shipped``), a page at a time, instead of being called once per parcel.

Exactly once, and restartable: a page's parcels and the cursor after the page are written in one
transaction of the carrier's own record, so a consumer stopped or killed in the middle of a page has
done none of it and takes the page again from the stored cursor. Two consumers of one record (the
demo serving several API processes) never take a page twice: the cursor is compared inside the
transaction, and a page read from a cursor that has moved since is dropped.

Failure policy: the platform down, a 5xx or an unreadable page leaves the cursor where it is; the
next round asks again after the pause. A refused key (401/403) is logged as an error each round: an
operator must issue the carrier a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from flashport.adapters.tls import tls
from flashport.sandbox_logistics.carrier import Carrier
from flashport.sandbox_logistics.store import WaybillStore

log = logging.getLogger(__name__)

FEED_PATH = "/api/v1/partner/feed"
HANDED_OVER = "order.shipped"


@dataclass(frozen=True)
class Page:
    logistics_nos: list[str]
    next_cursor: str | None
    has_more: bool


class FeedUnavailable(Exception):
    """The feed could not be read this round."""


class FeedConsumer:
    def __init__(
        self,
        carrier: Carrier,
        store: WaybillStore,
        platform_url: str,
        partner_key: str,
        *,
        page_size: int = 500,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._carrier = carrier
        self._store = store
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
        """Take over one page of the feed: (events read, whether more are waiting)."""
        async with self._store.transaction() as records:
            cursor = await records.feed_cursor(self._feed)
        page = await self._read(cursor)
        if not page.next_cursor or page.next_cursor == cursor:
            return 0, False
        async with self._store.transaction() as records:
            if await records.feed_cursor(self._feed) != cursor:
                return 0, True  # another consumer took this page meanwhile: read on from where it stopped
            now = datetime.now(UTC)
            await self._carrier.take_over(records, page.logistics_nos, now)
            await records.move_feed_cursor(self._feed, page.next_cursor, now)
        return len(page.logistics_nos), page.has_more

    async def _read(self, cursor: str | None) -> Page:
        params: dict[str, str | int] = {"limit": self._page_size, "type": HANDED_OVER}
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
            numbers = [
                str(item["data"]["logistics_no"])
                for item in body["items"]
                if item["type"] == HANDED_OVER and item["data"].get("logistics_no")
            ]
            return Page(numbers, body["next_cursor"], bool(body["has_more"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedUnavailable(f"feed page unreadable: {exc!r}") from exc

    async def run(self, pause_seconds: float, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: pages one after another while more are waiting, then a pause. It
        stops between pages, never inside one's transaction."""
        while not stop.is_set():
            more = False
            try:
                _, more = await self.consume_page()
            except FeedUnavailable as exc:
                log.error("the carrier could not read its feed: %s", exc)
            except Exception:
                log.exception("a page of the carrier's feed failed")
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause_seconds)

    async def close(self) -> None:
        await self._client.aclose()
