"""The declarations repository keeps the guarantees the customs worker relies on: a declaration is
claimed by one worker, each move happens once, a step recorded for an old version changes nothing, and
a receipt is stored once per inbox position while the read position never goes back."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import customs_receipts_repo, declarations_repo
from flashport.adapters.db.customs_receipts_repo import InboxPosition
from flashport.adapters.db.declarations_repo import Declaration
from flashport.adapters.db.schema import orders
from flashport.ceb.codes import TradeMode
from flashport.domain.declarations import DeclarationState
from flashport.services.context import Context


async def _open_declaration(ctx: Context) -> Declaration:
    """A pending declaration of a bare paid order (orders have no foreign keys: no sale needed)."""
    order_id, order_no = str(uuid.uuid4()), f"FP26{uuid.uuid4().hex[:20].upper()}"
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            orders.insert().values(
                id=order_id,
                order_no=order_no,
                buyer_id=1,
                event_id=1,
                sale_item_id=1,
                quantity=1,
                status="paid",
                fulfilment="bonded",
                goods_value_fen=9900,
                total_fen=9900,
                idempotency_key=order_no,
                created_at=tx.now,
                payment_deadline=tx.now + timedelta(minutes=20),
            )
        )
        await declarations_repo.insert(
            tx.conn,
            order_id=order_id,
            order_no=order_no,
            trade_mode=TradeMode.BONDED_IMPORT,
            cop_no=order_no[-20:],
            now=tx.now,
        )
        found = await declarations_repo.find_by_order_no(tx.conn, order_no)
    assert found is not None
    return found


async def test_of_two_workers_that_saw_a_due_declaration_only_one_claims_it(ctx: Context) -> None:
    opened = await _open_declaration(ctx)
    async with ctx.read() as conn:
        [due] = await declarations_repo.due_pending(conn, ctx.clock() + timedelta(seconds=1), 10)
    assert due.id == opened.id
    async with ctx.transaction() as tx:
        first = await declarations_repo.claim(tx.conn, due, tx.now + timedelta(minutes=2))
    async with ctx.transaction() as tx:
        second = await declarations_repo.claim(tx.conn, due, tx.now + timedelta(minutes=2))
    assert (first, second) == (True, False)
    async with ctx.read() as conn:
        assert await declarations_repo.due_pending(conn, ctx.clock() + timedelta(seconds=1), 10) == []


async def test_each_move_happens_once_from_the_state_seen(ctx: Context) -> None:
    opened = await _open_declaration(ctx)
    async with ctx.transaction() as tx:
        assert await declarations_repo.mark_declared(tx.conn, opened.id, tx.now)
        assert not await declarations_repo.mark_declared(tx.conn, opened.id, tx.now)
        declared = await declarations_repo.get(tx.conn, opened.id)
        assert declared.state is DeclarationState.DECLARED
        assert await declarations_repo.move_on(tx.conn, declared, DeclarationState.RECEIVED, tx.now)
        # A second worker still holding the declared one moves nothing.
        assert not await declarations_repo.move_on(tx.conn, declared, DeclarationState.MATCHED, tx.now)
        assert (await declarations_repo.get(tx.conn, opened.id)).state is DeclarationState.RECEIVED


async def test_a_step_recorded_for_an_older_version_changes_nothing(ctx: Context) -> None:
    opened = await _open_declaration(ctx)
    async with ctx.transaction() as tx:
        rejected_at = tx.now
        assert await declarations_repo.mark_rejected(
            tx.conn, opened, reason_code="payer_mismatch", reason="no", refund_after=rejected_at, now=tx.now
        )
        rejected = await declarations_repo.get(tx.conn, opened.id)
        assert await declarations_repo.reopen_as_next_version(tx.conn, rejected, tx.now)
        # The version-1 order message finishes sending after the re-declaration: not recorded.
        await declarations_repo.record_document_sent(tx.conn, opened, "order", tx.now)
        again = await declarations_repo.get(tx.conn, opened.id)
    assert (again.state, again.version, again.order_sent_version) == (DeclarationState.PENDING, 2, 0)
    assert again.refund_after is None and not again.documents_complete


async def test_a_receipt_is_stored_once_per_inbox_position_and_the_position_never_goes_back(
    ctx: Context,
) -> None:
    opened = await _open_declaration(ctx)
    position = InboxPosition("DXPENT0000000001", seq=7, part=0)

    async def store(conn: AsyncConnection, now: datetime) -> bool:
        return await customs_receipts_repo.insert_once(
            conn,
            position,
            declaration_id=opened.id,
            kind="CEB622",
            message_guid=str(uuid.uuid4()).upper(),
            return_status=2,
            return_info="received",
            return_time=now,
            applied=True,
            body="<receipt/>",
            now=now,
        )

    async with ctx.transaction() as tx:
        assert await store(tx.conn, tx.now)
        assert not await store(tx.conn, tx.now)  # another worker's copy: refused, transaction still usable
        await customs_receipts_repo.advance_inbox(tx.conn, position.dxp_id, 7, tx.now)
        await customs_receipts_repo.advance_inbox(tx.conn, position.dxp_id, 5, tx.now)  # a slower worker
    async with ctx.read() as conn:
        assert await customs_receipts_repo.inbox_read_up_to(conn, position.dxp_id) == 7
        kept = await customs_receipts_repo.list_for_declaration(conn, opened.id)
        stored = await conn.scalar(sa.text("SELECT count(*) FROM customs_receipts"))
    assert [r.return_status for r in kept] == [2] and stored == 1
