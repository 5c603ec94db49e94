"""The NATS partner bus at rush rates (the real server on 127.0.0.1:4222, a stream of each test's own):
a pass of events is published with every message sent before the acknowledgements are awaited, and
fetched into a batch by a callback, so neither side makes a task per event. A task (and a timer) per
event on each side was what kept the worker's queueing stage behind a rush of a thousand orders a
second (README, "Partner feeds at rush rates")."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from flashport.adapters.partner_bus import NatsPartnerBus, Outgoing
from tests.nats_bus import NATS_URL

EVENTS = 1000


@asynccontextmanager
async def a_bus() -> AsyncIterator[NatsPartnerBus]:
    tag = uuid.uuid4().hex[:10]
    bus = NatsPartnerBus(NATS_URL, f"FPTEST_{tag}", f"fptest.{tag}", f"fptest-{tag}")
    try:
        await bus.publish([])  # connects, makes the stream
        yield bus
    finally:
        try:
            await bus.delete_stream()
        finally:
            await bus.close()


@contextmanager
def tasks_counted() -> Generator[list[int]]:
    """How many tasks the running loop makes meanwhile (in ``[0]``)."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    made = [0]

    def counting(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kw: Any) -> Any:
        made[0] += 1
        if previous is not None:
            return previous(loop, coro, **kw)
        return asyncio.Task(coro, loop=loop, **kw)

    loop.set_task_factory(counting)  # type: ignore[arg-type]
    try:
        yield made
    finally:
        loop.set_task_factory(previous)


def events(bus: NatsPartnerBus, n: int, first: int = 1) -> list[Outgoing]:
    return [
        Outgoing(bus.subject_for(7, "order.created"), f"evt_{i}", b'{"n":%d}' % i)
        for i in range(first, first + n)
    ]


async def test_a_pass_of_a_thousand_events_is_published_without_a_task_per_event() -> None:
    async with a_bus() as bus:
        with tasks_counted() as made:
            assert await bus.publish(events(bus, EVENTS)) == EVENTS
        assert made[0] < 20, f"{made[0]} tasks to publish {EVENTS} events"
        assert await bus.publish(events(bus, 10, first=EVENTS - 4)) == 5  # copies dropped by id


async def test_a_thousand_waiting_events_are_fetched_in_one_batch_without_a_task_per_event() -> None:
    async with a_bus() as bus:
        await bus.publish(events(bus, EVENTS))
        await bus.fetch(1, 5.0)  # the consumer made, its inbox subscribed (one message, never acked)
        taken = 0
        with tasks_counted() as made:
            while taken < EVENTS - 1:
                got = await bus.fetch(EVENTS, 5.0)
                assert got, "the stream holds them: a fetch must bring some"
                for message in got:
                    await message.ack()
                taken += len(got)
        assert taken == EVENTS - 1
        assert made[0] < 20, f"{made[0]} tasks to fetch {EVENTS} events"
