"""After-sales returns over real HTTP, the four parties running: a delivered parcel's buyer asks to
return it, an operator approves, the worker declares the return application (CEB625, signed) and the
single window answers it (CEB626); only then is the payment refunded through the provider and the
buyer's annual quota given back. Every step is an ``aftersale.*`` outbox event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from flashport.adapters.db import declarations_repo
from flashport.adapters.db.schema import identity_year_totals, orders, outbox, refunds
from flashport.ceb import SoftwareKeySigner, parse_receipts
from flashport.ceb.withdrawals import ReturnedLine, Withdrawal, return_message
from flashport.domain.aftersales import check_return_window
from flashport.domain.errors import Conflict
from flashport.services.customs import documents
from flashport.services.customs.declaring import declare_pending
from flashport.settings import Settings
from flashport.worker import run_once
from tests.tracking_world import Tracking, tracking_world


@pytest.fixture
async def tracking(database_settings: Settings) -> AsyncIterator[Tracking]:
    async with tracking_world(database_settings) as world:
        yield world


async def _delivered(tracking: Tracking) -> tuple[str, str]:
    """(order_no, buyer token) of a parcel the carrier delivered and the platform knows of."""
    order_no, logistics_no, token = await tracking.shipped_order()
    for milestone in ("in_transit", "delivered"):
        assert (await tracking.scan(logistics_no, milestone)).status_code == 200
    await tracking.parties.until(lambda: _delivered_known(tracking, order_no, token), "yes")
    return order_no, token


async def _delivered_known(tracking: Tracking, order_no: str, token: str) -> str:
    return "yes" if (await tracking.shipment(order_no, token))["delivered"] else "no"


def _as_buyer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _return_state(tracking: Tracking, order_no: str, token: str) -> str:
    answer = await tracking.parties.platform.get(
        f"/api/v1/orders/{order_no}/returns", headers=_as_buyer(token)
    )
    return str(answer.json().get("state"))


async def _year_total(tracking: Tracking, order_no: str) -> int:
    async with tracking.parties.ctx.read() as conn:
        id_hash = await conn.scalar(sa.select(orders.c.buyer_id_hash).where(orders.c.order_no == order_no))
        return int(
            await conn.scalar(
                sa.select(sa.func.sum(identity_year_totals.c.paid_fen)).where(
                    identity_year_totals.c.id_hash == id_hash
                )
            )
            or 0
        )


async def _aftersale_events(tracking: Tracking, order_no: str) -> list[dict[str, Any]]:
    async with tracking.parties.ctx.read() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.type, outbox.c.payload)
            .where(outbox.c.subject == f"order:{order_no}", outbox.c.type.like("aftersale.%"))
            .order_by(outbox.c.id)
        )
        return [{"type": r.type, **r.payload} for r in rows]


async def test_a_delivered_parcel_is_returned_approved_declared_and_refunded_on_customs_receipt(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    order_no, token = await _delivered(tracking)
    quota_before = await _year_total(tracking, order_no)
    assert quota_before > 0
    asked = await parties.platform.post(
        f"/api/v1/orders/{order_no}/returns", json={"reason": "尺码不合适"}, headers=_as_buyer(token)
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["state"] == "requested"
    again = await parties.platform.post(
        f"/api/v1/orders/{order_no}/returns", json={"reason": "again"}, headers=_as_buyer(token)
    )
    assert (again.status_code, again.json()["code"]) == (409, "return_exists")
    # Nothing moves before an operator approves: no CEB625, no refund.
    await run_once(parties.ctx)
    assert await _return_state(tracking, order_no, token) == "requested"

    listed = (await parties.platform.get("/api/v1/aftersales", params={"state": "requested"})).json()
    [mine] = [r for r in listed if r["order_no"] == order_no]
    approved = await parties.platform.post(f"/api/v1/aftersales/{mine['id']}/approve")
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
    twice = await parties.platform.post(f"/api/v1/aftersales/{mine['id']}/approve")
    assert (twice.status_code, twice.json()["code"]) == (409, "not_requested")
    assert await _year_total(tracking, order_no) == quota_before  # not before customs' receipt

    await parties.until(lambda: _return_state(tracking, order_no, token), "refunded", work=True)
    done = (await parties.platform.get(f"/api/v1/orders/{order_no}/returns", headers=_as_buyer(token))).json()
    assert done["customs_status"] == 399 and done["declared_at"] and done["refund_id"]
    async with parties.ctx.read() as conn:
        refund = (await conn.execute(sa.select(refunds).where(refunds.c.id == done["refund_id"]))).one()
        paid_total = await conn.scalar(sa.select(orders.c.total_fen).where(orders.c.order_no == order_no))
    assert refund.reason == "returned" and refund.amount_fen == paid_total

    async def refund_sent() -> str:
        await run_once(parties.ctx)
        async with parties.ctx.read() as conn:
            return str(
                await conn.scalar(sa.select(refunds.c.status).where(refunds.c.id == done["refund_id"]))
            )

    await parties.until(refund_sent, "succeeded")
    assert await _year_total(tracking, order_no) == quota_before - paid_total + (
        await _tax_of(tracking, order_no)
    )
    events = await _aftersale_events(tracking, order_no)
    assert [e["type"] for e in events] == ["aftersale.requested", "aftersale.approved", "aftersale.refunded"]
    assert all(
        e["order_no"] == order_no and e["order_id"] and e["aftersale_id"] == mine["id"] for e in events
    )


async def _tax_of(tracking: Tracking, order_no: str) -> int:
    """The order's tax: paid, but never part of the dutiable value the quota counts."""
    async with tracking.parties.ctx.read() as conn:
        return int(await conn.scalar(sa.select(orders.c.tax_fen).where(orders.c.order_no == order_no)) or 0)


async def test_a_parcel_not_delivered_cannot_be_returned_and_a_reason_is_needed(tracking: Tracking) -> None:
    parties = tracking.parties
    order_no, _, token = await tracking.shipped_order()
    refused = await parties.platform.post(
        f"/api/v1/orders/{order_no}/returns", json={"reason": "不想要了"}, headers=_as_buyer(token)
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "not_delivered")
    blank = await parties.platform.post(
        f"/api/v1/orders/{order_no}/returns", json={"reason": "   "}, headers=_as_buyer(token)
    )
    assert (blank.status_code, blank.json()["code"]) == (422, "reason_required")
    missing = await parties.platform.get(f"/api/v1/orders/{order_no}/returns", headers=_as_buyer(token))
    assert (missing.status_code, missing.json()["code"]) == (404, "return_not_found")


def test_a_return_is_asked_for_within_the_policys_days_of_delivery() -> None:
    delivered = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    check_return_window(delivered, delivered + timedelta(days=7), 7)
    with pytest.raises(Conflict) as closed:
        check_return_window(delivered, delivered + timedelta(days=7, seconds=1), 7)
    assert closed.value.code == "return_window_closed"
    with pytest.raises(Conflict) as early:
        check_return_window(None, delivered, 7)
    assert early.value.code == "not_delivered"


async def test_the_single_window_refuses_a_return_of_goods_it_did_not_release_or_badly_signed(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    order_no = await parties.paid_order()
    assert await declare_pending(parties.ctx) == 1  # declared, not yet released
    async with parties.ctx.read() as conn:
        declaration = await declarations_repo.find_by_order_no(conn, order_no)
        assert declaration is not None
        facts = await documents.load(parties.ctx, conn, declaration.id)
    inventory = documents.inventory_declaration(parties.ctx, facts, parties.ctx.clock().date())
    withdrawal = Withdrawal(inventory, "310120261000000001", "质量问题", "RTEST1", (ReturnedLine(1, 1),))
    sender = documents.platform_sender(parties.ctx)
    cases = [
        (return_message(withdrawal, sender, signer=documents.signer(parties.ctx)), 100, "清单未放行"),
        (
            return_message(withdrawal, sender, signer=SoftwareKeySigner.generate("stranger")),
            100,
            "未在海关备案",
        ),
    ]
    for message, status, words in cases:
        assert (await parties.customs.post("/dxp/messages", content=message)).status_code == 202
        page = (await parties.customs.get(f"/dxp/inbox/{parties.ctx.settings.customs_dxp_id}")).json()
        answers = [
            r
            for item in page["items"]
            if item["kind"] == "CEB626"
            for r in parse_receipts(item["message"].encode())
        ]
        assert answers[-1].return_status == status and words in answers[-1].return_info


async def test_a_paid_order_is_cancelled_before_release_refunded_and_its_declaration_withdrawn(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    order_no = await parties.paid_order()
    assert await declare_pending(parties.ctx) == 1  # declared: customs has the documents, no verdict yet
    token = await tracking.buyer_token(order_no)
    quota_before = await _year_total(tracking, order_no)
    answer = await parties.platform.post(f"/api/v1/orders/{order_no}/cancellation", headers=_as_buyer(token))
    assert answer.status_code == 200, answer.text
    refund_id = answer.json()["refund_id"]
    assert refund_id > 0
    again = await parties.platform.post(f"/api/v1/orders/{order_no}/cancellation", headers=_as_buyer(token))
    assert again.status_code == 409 and again.json()["code"] == "already_cancelled"
    assert answer.json()["state"] == "refunded"  # customs had not accepted the list: no CEB623
    assert await _year_total(tracking, order_no) == quota_before - (await _dutiable(tracking, order_no))
    await parties.work_until(order_no, "refunded")

    async def withdrawn() -> str:
        await run_once(parties.ctx)
        return "yes" if "declaration.withdrawn" in await parties.events(order_no) else "no"

    await parties.until(withdrawn, "yes")
    async with parties.ctx.read() as conn:
        refund = (await conn.execute(sa.select(refunds).where(refunds.c.id == refund_id))).one()
    assert refund.reason == "buyer_cancelled" and refund.status == "succeeded"
    [event] = await _aftersale_events(tracking, order_no)
    assert event["type"] == "aftersale.refunded" and event["kind"] == "cancellation"


async def test_a_released_order_is_not_cancelled_but_returned_after_delivery(tracking: Tracking) -> None:
    order_no, _, token = await tracking.shipped_order()
    answer = await tracking.parties.platform.post(
        f"/api/v1/orders/{order_no}/cancellation", headers=_as_buyer(token)
    )
    assert (answer.status_code, answer.json()["code"]) == (409, "already_released")


async def _dutiable(tracking: Tracking, order_no: str) -> int:
    async with tracking.parties.ctx.read() as conn:
        row = (
            await conn.execute(
                sa.select(orders.c.goods_value_fen, orders.c.freight_fen).where(orders.c.order_no == order_no)
            )
        ).one()
    return int(row.goods_value_fen + row.freight_fen)
