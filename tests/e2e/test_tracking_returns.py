"""Tracking and returns on a phone, in a real browser: the order page shows the carrier, the waybill
number and the parcel's milestones (in English and in Chinese), and once delivered the buyer asks to
return it from the same panel; the operator's approval then shows there.

The parcel's journey is prepared through the services the back office uses (milestones recorded as
the stages record them); the customs and carrier exchanges themselves are covered by
tests/integration/test_tracking.py and test_returns.py. Screenshots go under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from playwright.sync_api import expect

from flashport.adapters.db.schema import declarations, orders
from flashport.domain.accounts import Role
from flashport.domain.tracking import Milestone
from flashport.services.aftersales import returns
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.services.tracking import milestones
from tests.e2e.conftest import LiveServer, Visit
from tests.factories import make_user
from tests.sale_builder import make_sale

CARRIER = "Flashport Sandbox Logistics Co., Ltd."


def shipped_order(server: LiveServer, buyer_id: int, reached: list[Milestone]) -> tuple[str, str]:
    """(order_no, waybill number) of a paid order of ``buyer_id`` whose parcel reached ``reached``."""
    sale = server.run(make_sale(server.ctx))
    order = server.run(buying.buy(server.ctx, buyer_id, sale.item_id, 1, f"track-{uuid.uuid4()}")).order
    logistics_no = "SL" + uuid.uuid4().hex[:12].upper()

    async def journey(ctx: Context) -> None:
        async with ctx.transaction() as tx:
            start = tx.now - timedelta(hours=30)
            await tx.conn.execute(
                orders.update().where(orders.c.id == order["id"]).values(status="paid", paid_at=start)
            )
            await tx.conn.execute(
                declarations.insert().values(
                    order_id=order["id"],
                    order_no=order["order_no"],
                    trade_mode="1210",
                    state="shipped",
                    cop_no=uuid.uuid4().hex[:20].upper(),
                    logistics_no=logistics_no,
                    logistics_code="3100000SL1",
                    logistics_name=CARRIER,
                    next_attempt_at=start,
                    created_at=start,
                    updated_at=start,
                )
            )
            for hours, milestone in enumerate(reached):
                at = start + timedelta(hours=2 + 5 * hours)
                await milestones.reach_within(tx, order["id"], order["order_no"], milestone, at)

    server.run(journey(server.ctx))
    return str(order["order_no"]), logistics_no


def _fits(page: object) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 390, f"the page is {width}px wide on a 390px phone"


def test_the_parcels_timeline_on_a_phone(phone_visit: Visit) -> None:
    server, page = phone_visit.server, phone_visit.page
    buyer = phone_visit.new_buyer()
    journey = [Milestone.DECLARED, Milestone.RELEASED, Milestone.PICKED, Milestone.HANDED_OVER]
    order_no, logistics_no = shipped_order(server, buyer, journey)
    page.goto(f"/orders/{order_no}")
    panel = page.locator("#tracking")
    expect(panel.get_by_role("heading")).to_have_text("Where your parcel is")
    expect(panel.locator("[data-waybill]")).to_have_text(logistics_no)
    expect(panel.locator("[data-carrier]")).to_have_text(CARRIER)
    expect(panel.locator(".timeline-step.is-done")).to_have_count(4)
    expect(panel.locator(".timeline-step.is-upcoming")).to_have_count(2)
    expect(panel.locator("[aria-current=step]")).to_contain_text("Handed to the carrier")
    expect(panel.get_by_text("Return this parcel")).to_have_count(0)  # not delivered yet
    panel.scroll_into_view_if_needed()
    _fits(page)
    phone_visit.snap("timeline-in-transit")


def test_a_delivered_parcel_is_returned_from_the_order_page_in_chinese(chinese_phone_visit: Visit) -> None:
    visit = chinese_phone_visit
    server, page = visit.server, visit.page
    buyer = visit.new_buyer()
    order_no, logistics_no = shipped_order(server, buyer, list(Milestone))
    page.goto(f"/orders/{order_no}")
    panel = page.locator("#tracking")
    expect(panel.get_by_role("heading")).to_have_text("已签收")
    expect(panel.locator(".timeline-step.is-done")).to_have_count(6)
    expect(panel).to_contain_text("运单号")
    expect(panel).to_contain_text(logistics_no)
    _fits(page)
    visit.snap("timeline-delivered")

    panel.get_by_text("申请退货", exact=True).first.click()  # opens the form
    page.get_by_label("退货原因").fill("尺码不合适")
    visit.snap("return-form")
    page.get_by_role("button", name="申请退货").click()
    expect(page).to_have_url(re.compile(rf"/orders/{order_no}#tracking$"))
    expect(page.locator("[data-flash]")).to_contain_text("退货申请已提交")
    expect(page.locator("[data-return-state=requested]")).to_contain_text("已申请退货")
    _fits(page)
    visit.snap("return-requested")

    async def approve(ctx: Context) -> None:
        operator, _ = await make_user(ctx, Role.OPERATOR)
        [asked] = [r for r in await returns.list_returns(ctx, None) if r.order_no == order_no]
        await returns.approve(ctx, operator, asked.id)

    server.run(approve(server.ctx))
    page.reload()
    expect(page.locator("[data-return-state=approved]")).to_contain_text("退货已审核通过")
    visit.snap("return-approved")
