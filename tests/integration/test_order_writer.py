"""The buy path's write on PostgreSQL (binary COPY, no SQLAlchemy) and what the hot tables' missing foreign
keys leave to the migration and to reconcile."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from flashport.adapters.db import migrate, orders_repo
from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.order_writer import PgOrderWriter
from flashport.adapters.db.schema import order_lines, orders, outbox
from flashport.domain.orders import ItemTerms, OrderDraft, draft_order
from flashport.services.context import Context
from flashport.services.sales.reconcile import dangling_references
from flashport.settings import Settings
from tests.conftest import _pg_admin, _pg_url
from tests.sale_builder import make_buyers, make_sale

WINDOW = timedelta(minutes=20)
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture
async def writer(ctx: Context, backend: str) -> Any:
    if backend == "sqlite":
        pytest.skip("PgOrderWriter is the PostgreSQL write path; SQLite keeps the SQLAlchemy inserts")
    opened = await PgOrderWriter.open(ctx.settings.async_database_url)
    try:
        yield opened
    finally:
        await opened.close()


async def _terms(ctx: Context) -> list[ItemTerms]:
    """A bonded and a direct-import item; the second with a title that needs care in COPY and JSON."""
    bonded, overseas = await make_sale(ctx), await make_sale(ctx, overseas=True, price_fen=12345)
    async with ctx.read() as conn:
        first = await orders_repo.load_terms(conn, bonded.item_id)
        second = await orders_repo.load_terms(conn, overseas.item_id)
    assert first is not None and second is not None
    return [first, dataclasses.replace(second, title='澳洲 a2 "Platinum"\t奶粉\\ 900g')]


def _drafts(terms: Sequence[ItemTerms], buyers: Sequence[int], count: int, key: str) -> list[OrderDraft]:
    # The first starts on a whole second: isoformat() then leaves the microseconds out.
    return [
        draft_order(
            terms[n % len(terms)],
            buyers[n % len(buyers)],
            1 + n % 3,
            f"{key}-{n}",
            START + timedelta(seconds=n, microseconds=137 * n),
            WINDOW,
        )
        for n in range(count)
    ]


async def _read_back(ctx: Context, drafts: Sequence[OrderDraft]) -> tuple[list[dict[str, Any]], ...]:
    ids = [d.id for d in drafts]
    subjects = [f"order:{d.order_no}" for d in drafts]
    async with ctx.read() as conn:
        order_rows = await conn.execute(sa.select(orders).where(orders.c.id.in_(ids)).order_by(orders.c.id))
        line_rows = await conn.execute(
            sa.select(order_lines).where(order_lines.c.order_id.in_(ids)).order_by(order_lines.c.order_id)
        )
        event_rows = await conn.execute(
            sa.select(outbox.c.type, outbox.c.subject, outbox.c.occurred_at, outbox.c.payload)
            .where(outbox.c.subject.in_(subjects))
            .order_by(outbox.c.subject)
        )
        return tuple([dict(r._mapping) for r in rows] for rows in (order_rows, line_rows, event_rows))


async def _delete(ctx: Context, drafts: Sequence[OrderDraft]) -> None:
    ids = [d.id for d in drafts]
    async with ctx.transaction() as tx:
        await tx.conn.execute(order_lines.delete().where(order_lines.c.order_id.in_(ids)))
        await tx.conn.execute(orders.delete().where(orders.c.id.in_(ids)))
        await tx.conn.execute(
            outbox.delete().where(outbox.c.subject.in_([f"order:{d.order_no}" for d in drafts]))
        )


async def _counts(ctx: Context) -> tuple[int, int, int]:
    count = sa.select(sa.func.count())
    async with ctx.read() as conn:
        return (
            await conn.scalar(count.select_from(orders)),
            await conn.scalar(count.select_from(order_lines)),
            await conn.scalar(count.select_from(outbox).where(outbox.c.type == "order.created")),
        )


async def _tx_seqs(ctx: Context, drafts: Sequence[OrderDraft]) -> set[int | None]:
    async with ctx.read() as conn:
        subjects = [f"order:{d.order_no}" for d in drafts]
        return set(
            (await conn.scalars(sa.select(outbox.c.tx_seq).where(outbox.c.subject.in_(subjects)))).all()
        )


async def test_copied_orders_read_back_exactly_as_the_sqlalchemy_inserts_write_them(
    ctx: Context, writer: PgOrderWriter
) -> None:
    terms = await _terms(ctx)
    buyers = [b for b, _ in await make_buyers(ctx, 3)]
    drafts = _drafts(terms, buyers, 7, "same")
    async with ctx.transaction() as tx:
        await orders_repo.insert_drafts(tx.conn, drafts)
    inserted = await _read_back(ctx, drafts)
    await _delete(ctx, drafts)

    await writer.write(drafts)

    copied = await _read_back(ctx, drafts)
    assert [len(rows) for rows in copied] == [7, 7, 7]
    assert copied == inserted
    assert copied[2][0]["payload"]["payment_deadline"] == "2026-11-26T08:20:00+00:00"


async def test_a_batch_with_one_bad_order_writes_nothing_at_all(ctx: Context, writer: PgOrderWriter) -> None:
    terms = await _terms(ctx)
    buyers = [b for b, _ in await make_buyers(ctx, 2)]
    [first] = _drafts(terms, buyers, 1, "first")
    await writer.write([first])
    good = _drafts(terms, buyers, 4, "batch")
    reused_number = dataclasses.replace(good[1], order_no=first.order_no)  # refused by the orders COPY
    too_long_title = dataclasses.replace(good[2], terms=dataclasses.replace(terms[0], title="x" * 301))
    naive_time = dataclasses.replace(good[2], created_at=good[2].created_at.replace(tzinfo=None))
    refusals: list[tuple[OrderDraft, type[Exception]]] = [
        (reused_number, asyncpg.UniqueViolationError),
        (too_long_title, asyncpg.StringDataRightTruncationError),  # by the order lines' COPY
        (naive_time, TypeError),  # by the client, as UTCDateTime refuses it
    ]
    for bad, refusal in refusals:
        batch = [good[0], bad, good[3]]
        with pytest.raises(refusal):
            await writer.write(batch)
        assert await _counts(ctx) == (1, 1, 1)  # the first order, its line and its event only
    await writer.write(good[:2])  # and the writer's connections still work (the pool has two)
    await writer.write(good[2:])
    assert await _counts(ctx) == (5, 5, 5)


async def test_order_exists_tells_written_orders_from_unknown_ones(
    ctx: Context, writer: PgOrderWriter
) -> None:
    terms = await _terms(ctx)
    [(buyer, _)] = await make_buyers(ctx, 1)
    drafts = _drafts(terms, [buyer], 2, "exists")
    await writer.write(drafts)
    assert await writer.order_exists(drafts[0].id) is True
    assert await writer.order_exists(str(uuid.uuid4())) is False


async def test_the_events_of_one_batch_share_its_transaction_id(ctx: Context, writer: PgOrderWriter) -> None:
    terms = await _terms(ctx)
    buyers = [b for b, _ in await make_buyers(ctx, 2)]
    first, second = _drafts(terms, buyers, 5, "one"), _drafts(terms, buyers, 3, "two")
    await writer.write(first)
    await writer.write(second)
    [one], [two] = await _tx_seqs(ctx, first), await _tx_seqs(ctx, second)
    assert one is not None and two is not None and two > one


# --- the missing foreign keys ---------------------------------------------------------------------------

HOT_REFERENCES = {
    "orders": {("buyer_id", "users"), ("event_id", "sale_events"), ("sale_item_id", "sale_items")},
    "order_lines": {("order_id", "orders"), ("sale_item_id", "sale_items"), ("sku_id", "skus")},
}


@pytest.fixture
def fresh_settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """An empty database of this run's backend, for a test that moves the migrations back and forth."""
    if backend == "sqlite":
        yield Settings(env="test", data_dir=tmp_path)
        return
    name = f"fp_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield Settings(env="test", data_dir=tmp_path, database_url=_pg_url(name))
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _hot_references(settings: Settings) -> dict[str, set[tuple[str, str]]]:
    async def read() -> dict[str, set[tuple[str, str]]]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: {
                        table: {
                            (fk["constrained_columns"][0], fk["referred_table"])
                            for fk in sa.inspect(sync).get_foreign_keys(table)
                        }
                        for table in HOT_REFERENCES
                    }
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_migration_0007_drops_the_hot_foreign_keys_and_its_downgrade_restores_them(
    fresh_settings: Settings,
) -> None:
    migrate.upgrade(fresh_settings, "0006")
    assert _hot_references(fresh_settings) == HOT_REFERENCES
    migrate.upgrade(fresh_settings)
    assert _hot_references(fresh_settings) == {"orders": set(), "order_lines": set()}
    migrate.downgrade(fresh_settings, "0006")
    assert _hot_references(fresh_settings) == HOT_REFERENCES
    migrate.upgrade(fresh_settings)
    assert _hot_references(fresh_settings) == {"orders": set(), "order_lines": set()}


async def test_reconcile_reports_orders_and_lines_that_point_at_nothing(ctx: Context) -> None:
    sale = await make_sale(ctx)
    [(buyer, _)] = await make_buyers(ctx, 1)
    async with ctx.read() as conn:
        terms = await orders_repo.load_terms(conn, sale.item_id)
    assert terms is not None
    [sound] = _drafts([terms], [buyer], 1, "sound")
    async with ctx.transaction() as tx:
        await orders_repo.insert_drafts(tx.conn, [sound])
    assert await dangling_references(ctx) == []

    orphan, ghost = str(uuid.uuid4()), str(uuid.uuid4())
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            sa.text(
                "INSERT INTO orders (id, order_no, buyer_id, event_id, sale_item_id, quantity, status,"
                " fulfilment, goods_value_fen, total_fen, idempotency_key, created_at, payment_deadline)"
                " VALUES (:id, 'FPDANGLING', 987654, 987655, :item, 1, 'pending_payment', 'bonded',"
                " 100, 100, 'k', :now, :now)"
            ),
            {"id": orphan, "item": sale.item_id, "now": START},
        )
        await tx.conn.execute(
            sa.text(
                "INSERT INTO order_lines (order_id, line_no, sale_item_id, sku_id, title, quantity,"
                " unit_price_fen, total_fen) VALUES (:order, 1, 987656, 987657, 't', 1, 100, 100)"
            ),
            [{"order": orphan}, {"order": ghost}],
        )

    found = {d.what: (d.count, d.examples) for d in await dangling_references(ctx)}
    assert found == {
        "orders whose buyer does not exist": (1, [orphan]),
        "orders whose sale event does not exist": (1, [orphan]),
        "order lines whose order does not exist": (1, [f"{ghost}:1"]),
        "order lines whose sale item does not exist": (2, sorted([f"{orphan}:1", f"{ghost}:1"])),
        "order lines whose SKU does not exist": (2, sorted([f"{orphan}:1", f"{ghost}:1"])),
    }
