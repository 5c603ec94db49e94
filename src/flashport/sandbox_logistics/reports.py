"""What the carrier tells others of a parcel's journey: every milestone it scans goes to the platform
(``POST {platform_url}/api/v1/partner/shipments/{logistics_no}/milestones``, with its partner key), and
a delivery goes to customs as a CEB513 (the logistics status the standard asks the carrier to declare).

Each report is queued in the transaction of the scan (:func:`queue`) and sent after it, one try at
once and then by the background round, until taken. Failure policy: the platform or the single window
down or answering 5xx leaves the report pending (sent again next round); a 4xx (the key refused, a
waybill the platform does not know) marks it refused with the answer, logged once: the same request
would be refused again. Without a platform address or key, platform reports wait, unsent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.customs.gateway import CustomsGateway, CustomsRefused, CustomsUnavailable
from flashport.adapters.tls import tls
from flashport.sandbox_logistics.store import WaybillStore
from flashport.sandbox_logistics.tables import reports

log = logging.getLogger(__name__)

PLATFORM = "platform"
CUSTOMS = "customs"
MILESTONES_PATH = "/api/v1/partner/shipments/{logistics_no}/milestones"


@dataclass(frozen=True)
class Report:
    id: int
    logistics_no: str
    target: str
    milestone: str
    at: datetime
    message: bytes | None
    attempts: int


async def queue(
    conn: AsyncConnection, logistics_no: str, target: str, milestone: str, at: datetime, message: bytes | None
) -> None:
    """Inside the scan's transaction."""
    await conn.execute(
        reports.insert().values(
            logistics_no=logistics_no,
            target=target,
            milestone=milestone,
            at=at,
            message=message,
            state="pending",
            attempts=0,
        )
    )


class Reporter:
    def __init__(
        self,
        store: WaybillStore,
        gateway: CustomsGateway,
        platform_url: str | None,
        partner_key: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._platform = None
        if platform_url and partner_key:
            self._platform = httpx.AsyncClient(
                base_url=platform_url.rstrip("/"),
                timeout=10,
                transport=transport,
                headers={"x-api-key": partner_key},
                verify=tls(),
            )
        self._lock = asyncio.Lock()  # one sender at a time: a report is never sent twice at once

    async def flush(self) -> int:
        """Send every pending report, oldest first; returns how many were taken."""
        async with self._lock:
            async with self._store.transaction() as records:
                pending = await _pending(records.conn, with_platform=self._platform is not None)
            taken = 0
            for report in pending:
                state, error = await self._send(report)
                async with self._store.transaction() as records:
                    await _record(records.conn, report, state, error)
                taken += state == "sent"
            return taken

    async def _send(self, report: Report) -> tuple[str, str | None]:
        try:
            if report.target == CUSTOMS:
                assert report.message is not None
                await self._gateway.send(report.message)
                return "sent", None
            assert self._platform is not None
            answer = await self._platform.post(
                MILESTONES_PATH.format(logistics_no=report.logistics_no),
                json={"milestone": report.milestone, "at": report.at.isoformat()},
            )
        except CustomsUnavailable as exc:
            return "pending", str(exc)
        except CustomsRefused as exc:
            log.warning("the single window refused the CEB513 of %s: %s", report.logistics_no, exc.message)
            return "refused", f"{exc.code}: {exc.message}"
        except httpx.HTTPError as exc:
            return "pending", f"platform unreachable: {exc!r}"
        if answer.status_code < 300:
            return "sent", None
        error = f"platform answered {answer.status_code}: {answer.text[:500]}"
        if answer.status_code >= 500:
            return "pending", error
        log.warning(
            "the platform refused milestone %s of %s: %s", report.milestone, report.logistics_no, error
        )
        return "refused", error

    async def run(self, pause_seconds: float, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: a round every ``pause_seconds`` (it stops between rounds)."""
        while not stop.is_set():
            try:
                await self.flush()
            except Exception:
                log.exception("a round of milestone reports failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause_seconds)

    async def close(self) -> None:
        if self._platform is not None:
            await self._platform.aclose()


async def _pending(conn: AsyncConnection, *, with_platform: bool) -> list[Report]:
    query = sa.select(reports).where(reports.c.state == "pending").order_by(reports.c.id)
    if not with_platform:
        query = query.where(reports.c.target == CUSTOMS)
    rows = await conn.execute(query)
    return [Report(r.id, r.logistics_no, r.target, r.milestone, r.at, r.message, r.attempts) for r in rows]


async def _record(conn: AsyncConnection, report: Report, state: str, error: str | None) -> None:
    await conn.execute(
        reports.update()
        .where(reports.c.id == report.id)
        .values(
            state=state,
            attempts=report.attempts + 1,
            last_error=error,
            sent_at=datetime.now(UTC) if state == "sent" else None,
        )
    )


async def of_waybill(conn: AsyncConnection, logistics_no: str) -> list[dict[str, object]]:
    """The reports of one waybill, for the API: target, milestone, state."""
    rows = await conn.execute(
        sa.select(reports.c.target, reports.c.milestone, reports.c.state, reports.c.last_error)
        .where(reports.c.logistics_no == logistics_no)
        .order_by(reports.c.id)
    )
    return [dict(r._mapping) for r in rows]
