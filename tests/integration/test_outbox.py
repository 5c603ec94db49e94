"""The outbox: written with each change, read in commit order through a cursor, nothing skipped.

On PostgreSQL a reader sees a record once every transaction older than its own has ended, in the whole
server (the snapshot horizon is cluster-wide): another database's transaction, such as a parallel test
run's, can hold fresh records back for a moment. The tests wait for them to show, never assume it.
"""

from __future__ import annotations

import httpx
import pytest

from flashport.domain.accounts import Role
from flashport.services import outbox
from flashport.services.context import Context
from tests.factories import auth, make_user
from tests.waiting import eventually


async def _all_visible(ctx: Context, type_: str, count: int) -> None:
    async def visible() -> bool:
        async with ctx.read() as conn:
            return len((await outbox.page(conn, after=None, limit=count + 1, type_=type_)).items) == count

    await eventually(visible, what=f"{count} {type_} records to be readable")


async def test_operators_page_through_the_outbox_with_a_cursor(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    _, operator = await make_user(ctx, Role.OPERATOR)
    for n in range(5):
        async with ctx.transaction() as tx:
            await tx.emit("test.happened", f"thing:{n}", {"n": n})
    await _all_visible(ctx, "test.happened", 5)
    first = (await client.get("/api/v1/outbox?limit=3&type=test.happened", headers=auth(operator))).json()
    assert [e["payload"]["n"] for e in first["items"]] == [0, 1, 2]
    assert first["has_more"] is True
    rest = (
        await client.get(
            f"/api/v1/outbox?limit=3&type=test.happened&after={first['next_cursor']}", headers=auth(operator)
        )
    ).json()
    assert [e["payload"]["n"] for e in rest["items"]] == [3, 4]
    empty = (
        await client.get(
            f"/api/v1/outbox?type=test.happened&after={rest['next_cursor']}", headers=auth(operator)
        )
    ).json()
    assert empty["items"] == [] and empty["next_cursor"] == rest["next_cursor"]
    bad = await client.get("/api/v1/outbox?after=not-a-cursor", headers=auth(operator))
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")


async def test_a_change_that_fails_leaves_no_outbox_record(ctx: Context) -> None:
    with pytest.raises(RuntimeError):
        async with ctx.transaction() as tx:
            await tx.emit("test.happened", "thing:x", {})
            raise RuntimeError("the change failed after its record was written")
    async with ctx.read() as conn:
        found = await outbox.page(conn, after=None, limit=10, type_="test.happened")
    assert found.items == [] and found.next_cursor is None


async def test_a_reader_never_skips_a_record_that_commits_after_a_later_one(
    ctx: Context, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: row ids already follow commit order")
    async with ctx.engine.connect() as slow:
        slow_tx = await slow.begin()
        await outbox.append(slow, "test.slow", "thing:slow", {}, ctx.clock())  # takes the lower id
        async with ctx.transaction() as fast:
            await fast.emit("test.fast", "thing:fast", {})  # higher id, commits first
        async with ctx.read() as conn:
            seen = await outbox.page(conn, after=None, limit=10)
        assert seen.items == []  # the fast one waits until the slow one is settled
        await slow_tx.commit()

    async def both_settled() -> list[str]:
        async with ctx.read() as conn:
            later = await outbox.page(conn, after=seen.next_cursor, limit=10)
        types = [record.type for record in later.items]
        return types if len(types) == 2 else []

    assert await eventually(both_settled, what="both records to settle") == ["test.slow", "test.fast"]
