"""The carrier's side of the pipeline run's audit: the sandbox carrier follows its partner feed for the
parcels released to it, so by the end it must have taken each of the run's parcels over exactly once.
Read from its own record (a SQLite file in the run's folder), waiting a little for its feed to catch up."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from flashport.bench.pipeline_audit import EXAMPLES, AuditCheck

TAKEN_OVER = "Parcel received from the platform"  # the carrier's tracking event (sandbox_logistics)
CATCH_UP_SECONDS = 60.0


def taken_over(record: Path) -> dict[str, int]:
    """Per order number, how many times the carrier took its parcel over (none: no record yet)."""
    if not record.is_file():
        return {}
    with sqlite3.connect(f"file:{record}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT w.order_no, COUNT(e.id) FROM waybills w LEFT JOIN tracking_events e"
            " ON e.logistics_no = w.logistics_no AND e.description = ? GROUP BY w.order_no",
            (TAKEN_OVER,),
        ).fetchall()
    return {str(order_no): int(count) for order_no, count in rows}


async def carrier_check(record: Path, order_nos: Sequence[str]) -> AuditCheck:
    """Each order's parcel taken over by the carrier exactly once, waiting up to
    :data:`CATCH_UP_SECONDS` for the carrier to read the end of its feed."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        counts = await asyncio.to_thread(taken_over, record)
        broken = [no for no in order_nos if counts.get(no, 0) != 1]
        if not broken or time.monotonic() > deadline or any(counts.get(no, 0) > 1 for no in order_nos):
            return AuditCheck(
                "the carrier took every parcel over once (from its feed)", len(broken), broken[:EXAMPLES]
            )
        await asyncio.sleep(1.0)
