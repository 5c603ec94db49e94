"""The example receiver in examples/webhook_receiver.py, run as its own process, gets real deliveries:
it verifies each with the standardwebhooks library, keeps each event once however often it is resent,
and refuses a body that was tampered with."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from flashport.services.context import Context
from flashport.services.partners import delivery, webhooks
from tests.partner_world import make_world, place_order, relay_until_settled
from tests.servers import free_port
from tests.waiting import HTTP_TIMEOUT

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"


async def test_the_example_receiver_verifies_real_deliveries_and_keeps_each_event_once(
    ctx: Context, tmp_path: Path
) -> None:
    world = await make_world(ctx)
    supplier = world.suppliers[0]
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks"
    made = await webhooks.create(ctx, supplier.partner_id, url, [])
    events_file = tmp_path / "events.jsonl"
    receiver = await asyncio.create_subprocess_exec(
        *(sys.executable, str(EXAMPLE), "--port", str(port), "--events", str(events_file)),
        *("--seen", str(tmp_path / "seen.sqlite3")),
        env={**os.environ, "WEBHOOK_SECRET": made.secret},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert receiver.stdout is not None
        assert b"listening" in await asyncio.wait_for(receiver.stdout.readline(), 30)
        await place_order(ctx, world, goods=0, carrier=0, payer=0)  # 6 events for the supplier
        await relay_until_settled(ctx)
        await delivery.enqueue(ctx)
        assert await delivery.send_due(ctx) == 6  # every one answered 2xx: verified
        first = (await webhooks.deliveries(ctx, supplier.partner_id, made.endpoint.id))[-1]
        await webhooks.resend(ctx, supplier.partner_id, first.id)
        assert await delivery.send_due(ctx) == 1  # accepted again, and dropped by its webhook-id
        kept = [json.loads(line) for line in events_file.read_text().splitlines()]
        assert len(kept) == 6 and len({e["id"] for e in kept}) == 6
        assert sorted(e["subject_seq"] for e in kept) == [1, 2, 3, 4, 5, 6]  # sent side by side: in any order
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:  # a forged or altered body is refused
            forged = await http.post(
                url,
                content=b'{"type":"order.created","data":{}}',
                headers={"webhook-id": "msg_x", "webhook-timestamp": "0", "webhook-signature": "v1,AAAA"},
            )
        assert forged.status_code == 400
        assert len(events_file.read_text().splitlines()) == 6
    finally:
        receiver.terminate()
        await receiver.wait()
