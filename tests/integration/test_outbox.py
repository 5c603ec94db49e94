"""The outbox: written with each change, read in commit order through a cursor, nothing skipped."""

from __future__ import annotations

import httpx
import pytest

from flashport.domain.accounts import Role
from flashport.services import outbox
from flashport.services.context import Context
from tests.factories import auth, make_user


async def test_operators_page_through_the_outbox_with_a_cursor(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    _, operator = await make_user(ctx, Role.OPERATOR)
    for n in range(5):
        async with ctx.transaction() as tx:
            await tx.emit("test.happened", f"thing:{n}", {"n": n})
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
    async with ctx.read() as conn:
        later = await outbox.page(conn, after=seen.next_cursor, limit=10)
    assert [record.type for record in later.items] == ["test.slow", "test.fast"]
