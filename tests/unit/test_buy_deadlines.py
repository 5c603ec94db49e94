"""The buy deadline on one timer per tick (services/sales/deadlines.py): the semantics of
``asyncio.timeout`` around each purchase, without a timer each."""

from __future__ import annotations

import asyncio

import pytest

from flashport.services.sales.deadlines import Deadlines


class Pending(Exception):
    """What the purchase answers when its deadline passes (503 ``purchase_pending`` on the buy path)."""


async def _guarded(deadlines: Deadlines, seconds: float, work: asyncio.Future[str]) -> str:
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    due = deadlines.watch(task, seconds)
    try:
        return await work
    except asyncio.CancelledError:
        if deadlines.expired(task, cancelling):
            raise Pending from None
        raise
    finally:
        deadlines.done(task, due)


async def test_work_done_in_time_is_answered_and_leaves_nothing_watched() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    works = [loop.create_future() for _ in range(50)]
    tasks = [asyncio.create_task(_guarded(deadlines, 3600, w)) for w in works]
    await asyncio.sleep(0)
    assert len(deadlines) == 50  # fifty purchases, and one timer for the tick they all fall in
    for i, work in enumerate(works):
        work.set_result(f"order {i}")
    assert await asyncio.gather(*tasks) == [f"order {i}" for i in range(50)]
    assert len(deadlines) == 0


async def test_work_past_its_deadline_is_answered_pending_and_the_task_is_not_left_cancelling() -> None:
    deadlines = Deadlines(tick=0.01)
    work: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(_guarded(deadlines, 0.02, work))
    with pytest.raises(Pending):
        await task
    assert work.cancelled()  # the engine's call is let go, as asyncio.timeout lets it go
    assert task.cancelling() == 0
    assert len(deadlines) == 0


async def test_a_cancellation_from_elsewhere_goes_on_as_a_cancellation() -> None:
    deadlines = Deadlines()
    work: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(_guarded(deadlines, 3600, work))
    await asyncio.sleep(0)
    task.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0


async def test_a_deadline_and_a_cancellation_from_elsewhere_at_once_is_a_cancellation() -> None:
    """As with asyncio.timeout: the deadline's own cancellation is withdrawn, the other one stands."""
    deadlines = Deadlines()
    work: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(_guarded(deadlines, 3600, work))
    await asyncio.sleep(0)
    [due] = list(deadlines._due)
    deadlines._expire(due)  # its tick comes...
    task.cancel()  # ...and the server stops, in the same turn of the loop
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelling() == 1  # the server's cancellation is still there for whoever awaits it
    assert len(deadlines) == 0 and not deadlines._fired


async def test_purchases_due_within_one_tick_share_its_timer() -> None:
    deadlines = Deadlines(tick=10.0)
    loop = asyncio.get_running_loop()
    works = [loop.create_future() for _ in range(20)]
    tasks = [asyncio.create_task(_guarded(deadlines, 5.0, w)) for w in works]
    await asyncio.sleep(0)
    assert len(deadlines._due) <= 2  # the twenty deadlines fall in one or two ten-second ticks
    for work in works:
        work.set_result("ok")
    await asyncio.gather(*tasks)
