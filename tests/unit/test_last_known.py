"""``LastKnown``: a value read now and then, that no caller waits on past its deadline. The clock is a
``ManualTimer``; a read the test holds open stands for a database that does not answer."""

from __future__ import annotations

import asyncio

import pytest

from flashport.domain.errors import ServiceUnavailable
from flashport.services.last_known import LastKnown
from tests.clocks import ManualTimer
from tests.waiting import eventually

FOREVER = 3600.0  # a deadline no test reaches: the caller is answered by something else first
SHORT = 0.05  # a deadline that strikes while the read is held (the read never ends on its own)


class HeldReads:
    """Reads of values 1, 2, 3...; each waits until the test lets it answer (or fail)."""

    def __init__(self) -> None:
        self.started = 0
        self.answer = asyncio.Event()
        self.error: Exception | None = None

    async def __call__(self) -> int:
        self.started += 1
        number = self.started
        await self.answer.wait()
        if self.error is not None:
            raise self.error
        return number


async def _read_once(known: LastKnown[int], reads: HeldReads, timer: ManualTimer) -> int:
    """A first value, read with the database answering."""
    reads.answer.set()
    value = await known.get(reads, FOREVER)
    reads.answer.clear()
    return value


async def test_a_fresh_value_is_served_without_a_read() -> None:
    timer, reads = ManualTimer(), HeldReads()
    known: LastKnown[int] = LastKnown(ttl=2.0, stale_for=10.0, monotonic=timer)
    assert await _read_once(known, reads, timer) == 1
    timer.advance(1.9)
    assert await known.get(reads, FOREVER) == 1
    assert reads.started == 1


async def test_a_stale_value_is_served_at_once_while_its_refresh_is_stalled() -> None:
    timer, reads = ManualTimer(), HeldReads()
    known: LastKnown[int] = LastKnown(ttl=2.0, stale_for=10.0, monotonic=timer)
    await _read_once(known, reads, timer)
    timer.advance(3.0)  # past the ttl: a refresh is due, and the database does not answer
    served = await asyncio.wait_for(asyncio.gather(*(known.get(reads, FOREVER) for _ in range(50))), 60)
    assert served == [1] * 50
    assert reads.started == 2  # one refresh for all fifty
    reads.answer.set()  # the database answers again: the refresh's value is served from then on
    await eventually(lambda: _async(known.fresh_until > timer()), what="the refresh landing")
    assert await known.get(reads, FOREVER) == 2


async def test_a_value_too_old_is_not_served_and_its_caller_is_answered_503_by_the_deadline() -> None:
    timer, reads = ManualTimer(), HeldReads()
    known: LastKnown[int] = LastKnown(ttl=2.0, stale_for=10.0, monotonic=timer)
    await _read_once(known, reads, timer)
    timer.advance(12.5)  # past ttl + stale_for
    with pytest.raises(ServiceUnavailable) as refused:
        await asyncio.wait_for(known.get(reads, SHORT), 60)
    assert refused.value.code == "service_unavailable" and refused.value.retry_after == 1
    # The refresh went on without its caller: the next caller shares it and gets its value.
    late = asyncio.create_task(known.get(reads, FOREVER))
    reads.answer.set()
    assert await asyncio.wait_for(late, 60) == 2
    assert reads.started == 2


async def test_with_nothing_known_the_first_read_is_waited_for_within_the_deadline() -> None:
    reads = HeldReads()
    known: LastKnown[int] = LastKnown(ttl=2.0, stale_for=10.0, monotonic=ManualTimer())
    with pytest.raises(ServiceUnavailable):
        await asyncio.wait_for(known.get(reads, SHORT), 60)
    reads.answer.set()
    assert await asyncio.wait_for(known.get(reads, FOREVER), 60) == 1


async def test_a_failed_refresh_keeps_the_stale_value_and_fails_a_caller_that_has_none() -> None:
    timer, reads = ManualTimer(), HeldReads()
    known: LastKnown[int] = LastKnown(ttl=2.0, stale_for=10.0, monotonic=timer)
    await _read_once(known, reads, timer)
    reads.error = ConnectionRefusedError("the database is down")
    reads.answer.set()
    timer.advance(3.0)
    assert await known.get(reads, FOREVER) == 1  # served; the refresh fails behind it
    await eventually(lambda: _async(reads.started == 2 and known._refreshing is None), what="the failure")
    assert await known.get(reads, FOREVER) == 1
    timer.advance(10.0)  # too old now: the caller gets the read's own error
    with pytest.raises(ConnectionRefusedError):
        await known.get(reads, FOREVER)


async def test_forget_drops_the_value_and_what_a_refresh_begun_before_brings() -> None:
    timer, reads = ManualTimer(), HeldReads()
    known: LastKnown[int] = LastKnown(ttl=2.0, stale_for=10.0, monotonic=timer)
    await _read_once(known, reads, timer)
    timer.advance(3.0)
    assert await known.get(reads, FOREVER) == 1  # a refresh (read 2) begins, held
    known.forget()  # the item changed: read 2 began before the change
    after = asyncio.create_task(known.get(reads, FOREVER))
    await eventually(lambda: _async(reads.started == 3), what="a read begun after the change")
    reads.answer.set()
    assert await asyncio.wait_for(after, 60) == 3
    assert await known.get(reads, FOREVER) == 3  # read 2's value, landed meanwhile, was not kept


async def test_amend_replaces_a_known_value_only() -> None:
    timer, reads = ManualTimer(), HeldReads()
    known: LastKnown[int] = LastKnown(ttl=2.0, stale_for=10.0, monotonic=timer)
    known.amend(7)
    assert not known.known
    await _read_once(known, reads, timer)
    known.amend(7)
    assert await known.get(reads, FOREVER) == 7


async def _async(value: bool) -> bool:
    return value
