"""Cancelling a paid order whose inventory list customs accepted but has not released, over real
HTTP with the four parties running and the single window holding accepted lists until its officer
releases them: the buyer's cancel becomes a signed CEB623 naming customs' inventory number, the single
window answers a CEB624, and only its acceptance brings the refund in full, the annual quota back and
the waybill's cancellation. A refusal (customs released first) leaves the order to ship, with the
reason told. A release racing the withdrawal is decided once: released or withdrawn, never both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import identity_year_totals, orders, payments, refunds
from flashport.services.aftersales import withdrawals
from flashport.services.customs import receipts
from flashport.settings import Settings
from flashport.worker import run_once
from tests.conftest import BACKENDS
from tests.tracking_world import Tracking, tracking_world

# The withdrawal's whole way, with the refund on customs' acceptance, runs on both backends; the
# refusals and the race, decided by the single window (receipts are then applied one reader at a time),
# on the first one listed only, to keep the suite's time.
ON_EVERY_BACKEND = {"test_a_cancel_after_customs_accepted_the_list_withdraws_it_with_ceb623_then_refunds"}


@pytest.fixture
async def tracking(request: pytest.FixtureRequest, database_settings: Settings) -> AsyncIterator[Tracking]:
    backend = "sqlite" if database_settings.is_sqlite else "postgres"
    if request.node.originalname not in ON_EVERY_BACKEND and backend != BACKENDS[0]:
        pytest.skip(f"decided by the single window: run on {BACKENDS[0]} only")
    async with tracking_world(database_settings, hold_release=True) as world:
        yield world


def _as_buyer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _accepted_order(tracking: Tracking) -> tuple[str, str]:
    """(order_no, buyer token) of a paid order whose inventory list customs accepted (120) and holds."""
    order_no = await tracking.parties.paid_order()
    await tracking.parties.work_until(order_no, "matched")
    return order_no, await tracking.buyer_token(order_no)


async def _cancel(tracking: Tracking, order_no: str, token: str) -> httpx.Response:
    return await tracking.parties.platform.post(
        f"/api/v1/orders/{order_no}/cancellation", headers=_as_buyer(token)
    )


async def _cancellation(tracking: Tracking, order_no: str, token: str) -> dict[str, Any]:
    answer = await tracking.parties.platform.get(
        f"/api/v1/orders/{order_no}/cancellation", headers=_as_buyer(token)
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _state(tracking: Tracking, order_no: str, token: str) -> str:
    return str((await _cancellation(tracking, order_no, token))["state"])


async def _release_at_customs(tracking: Tracking, order_no: str) -> httpx.Response:
    return await tracking.parties.customs.post(f"/admin/declarations/{order_no}/release")


async def _year_total(tracking: Tracking, order_no: str) -> int:
    async with tracking.parties.ctx.read() as conn:
        id_hash = await conn.scalar(sa.select(orders.c.buyer_id_hash).where(orders.c.order_no == order_no))
        total = await conn.scalar(
            sa.select(sa.func.sum(identity_year_totals.c.paid_fen)).where(
                identity_year_totals.c.id_hash == id_hash
            )
        )
        return int(total or 0)


async def _refunds_of(tracking: Tracking, order_no: str) -> list[Any]:
    async with tracking.parties.ctx.read() as conn:
        return list(
            (
                await conn.execute(
                    sa.select(refunds.c.id, refunds.c.status, refunds.c.reason, refunds.c.amount_fen)
                    .join(payments, payments.c.id == refunds.c.payment_id)
                    .join(orders, orders.c.id == payments.c.order_id)
                    .where(orders.c.order_no == order_no)
                )
            ).all()
        )


async def _order_value(tracking: Tracking, order_no: str) -> tuple[int, int]:
    """(what the buyer paid, the dutiable value the annual quota counts)."""
    async with tracking.parties.ctx.read() as conn:
        row = (
            await conn.execute(
                sa.select(orders.c.total_fen, orders.c.goods_value_fen, orders.c.freight_fen).where(
                    orders.c.order_no == order_no
                )
            )
        ).one()
    return int(row.total_fen), int(row.goods_value_fen + row.freight_fen)


async def _story_events(tracking: Tracking, order_no: str) -> list[dict[str, Any]]:
    """The order desk's story of the order, as an operator reads it."""
    story = await tracking.parties.platform.get(f"/api/v1/admin/orders/{order_no}")
    assert story.status_code == 200, story.text
    return list(story.json()["events"])


async def test_a_cancel_after_customs_accepted_the_list_withdraws_it_with_ceb623_then_refunds(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    order_no, token = await _accepted_order(tracking)
    quota_before = await _year_total(tracking, order_no)
    paid, dutiable = await _order_value(tracking, order_no)

    asked = await _cancel(tracking, order_no, token)
    assert asked.status_code == 202, asked.text
    assert asked.json()["state"] == "requested" and asked.json()["refund_id"] == 0
    twice = await _cancel(tracking, order_no, token)
    assert (twice.status_code, twice.json()["code"]) == (409, "cancellation_pending")
    assert await _refunds_of(tracking, order_no) == []  # nothing moves before customs' answer

    await parties.until(lambda: _state(tracking, order_no, token), "withdrawn", work=True)
    done = await _cancellation(tracking, order_no, token)
    assert done["customs_status"] == 399 and done["declared_at"] and done["refund_id"] > 0

    async def refunded_and_withdrawn() -> str:
        await run_once(parties.ctx)
        sent = [r.status for r in await _refunds_of(tracking, order_no)] == ["succeeded"]
        return "yes" if sent and "declaration.withdrawn" in await parties.events(order_no) else "no"

    await parties.until(refunded_and_withdrawn, "yes")
    [refund] = await _refunds_of(tracking, order_no)
    assert (refund.reason, refund.amount_fen) == ("buyer_cancelled", paid)
    assert await _year_total(tracking, order_no) == quota_before - dutiable
    assert await parties.state(order_no) == "refunded"

    # At customs the list is withdrawn: its officer can no longer release it, and the carrier's
    # waybill is cancelled.
    at_customs = (await parties.customs.get(f"/declarations/{order_no}")).json()
    assert (at_customs["state"], at_customs["reason_code"]) == ("cancelled", "withdrawn")
    late = await _release_at_customs(tracking, order_no)
    assert (late.status_code, late.json()["code"]) == (409, "not_accepted")
    logistics_no = (await parties.detail(order_no))["logistics_no"]
    waybill = (await parties.carrier.get(f"/v1/waybills/{logistics_no}")).json()
    assert waybill["status"] == "cancelled"

    told = [e["type"] for e in await _story_events(tracking, order_no)]
    wanted = [
        "aftersale.withdrawal_requested",
        "aftersale.withdrawal_declared",
        "aftersale.refunded",
        "declaration.withdrawn",
    ]
    assert [t for t in told if t in wanted] == wanted
    sent = [e for e in await _story_events(tracking, order_no) if e["type"] == "customs.message_sent"]
    assert "CEB621" in {e["payload"]["kind"] for e in sent}
    assert not any(e["payload"]["kind"] == "CEB621" and e["payload"]["app_type"] == "3" for e in sent)


async def test_a_withdrawal_customs_refuses_because_it_released_first_leaves_the_order_to_ship(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    order_no, token = await _accepted_order(tracking)
    quota_before = await _year_total(tracking, order_no)
    assert (await _cancel(tracking, order_no, token)).status_code == 202
    # Customs' officer releases the list while the CEB623 is on its way.
    assert (await _release_at_customs(tracking, order_no)).status_code == 200
    assert await withdrawals.declare_requested(parties.ctx) == 1  # sent before the release was read

    await parties.until(lambda: _state(tracking, order_no, token), "refused", work=True)
    refused = await _cancellation(tracking, order_no, token)
    assert refused["customs_status"] == 100 and "already_released" in refused["customs_info"]
    assert refused["refund_id"] == 0
    await parties.work_until(order_no, "shipped")
    assert await _refunds_of(tracking, order_no) == []
    assert await _year_total(tracking, order_no) == quota_before
    [told] = [
        e for e in await _story_events(tracking, order_no) if e["type"] == "aftersale.withdrawal_refused"
    ]
    assert "already_released" in told["payload"]["reason"]
    again = await _cancel(tracking, order_no, token)
    assert (again.status_code, again.json()["code"]) == (409, "already_released")
    page = await tracking.order_page(order_no, "zh-CN")  # the buyer reads why, in their language
    assert 'data-withdrawal-state="refused"' in page and "海关未同意撤销申报" in page
    assert "already_released" in page


async def test_a_release_read_before_the_withdrawal_is_sent_stops_it_without_a_ceb623(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    order_no, token = await _accepted_order(tracking)
    assert (await _cancel(tracking, order_no, token)).status_code == 202
    assert (await _release_at_customs(tracking, order_no)).status_code == 200

    async def release_read() -> str:
        await receipts.poll_receipts(parties.ctx)
        return str(await parties.state(order_no))

    await parties.until(release_read, "released")
    assert await withdrawals.declare_requested(parties.ctx) == 1
    refused = await _cancellation(tracking, order_no, token)
    assert refused["state"] == "refused" and refused["customs_status"] is None
    assert "released" in refused["customs_info"] and refused["declared_at"] is None
    assert await _refunds_of(tracking, order_no) == []


async def test_a_release_racing_the_withdrawal_is_decided_once(tracking: Tracking) -> None:
    parties = tracking.parties
    order_no, token = await _accepted_order(tracking)
    assert (await _cancel(tracking, order_no, token)).status_code == 202
    declared, released = await asyncio.gather(
        withdrawals.declare_requested(parties.ctx), _release_at_customs(tracking, order_no)
    )
    assert declared == 1 and released.status_code in (200, 409)

    async def answered() -> str:
        state = await _state(tracking, order_no, token)
        return "yes" if state in ("withdrawn", "refused") else state

    await parties.until(answered, "yes", work=True)
    outcome = await _state(tracking, order_no, token)
    at_customs = (await parties.customs.get(f"/declarations/{order_no}")).json()["state"]
    if released.status_code == 200:  # the release came first: the withdrawal is refused
        assert (outcome, at_customs) == ("refused", "released")
        await parties.work_until(order_no, "shipped")
        assert await _refunds_of(tracking, order_no) == []
    else:  # the withdrawal came first: nothing was released, the money goes back
        assert (outcome, at_customs) == ("withdrawn", "cancelled")
        assert await parties.state(order_no) == "refunded"
        assert [r.reason for r in await _refunds_of(tracking, order_no)] == ["buyer_cancelled"]
