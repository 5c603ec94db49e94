"""Cancelling an order from its page on a phone, in a real browser: an unpaid order (English) and a
paid order customs accepted but has not released (Chinese). The first press only opens the
confirmation; the second sends the form with its CSRF token.

The paid order's declaration is prepared through the tables the back office fills (accepted by
customs, the "declared" milestone recorded); the CEB623 and customs' answer that follow are covered by
tests/integration/test_withdrawals.py. Screenshots go under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from playwright.sync_api import expect

from flashport.adapters.db.schema import declarations, orders
from flashport.domain.tracking import Milestone
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.services.tracking import milestones
from tests.e2e.conftest import LiveServer, Visit
from tests.sale_builder import make_sale


def _order(server: LiveServer, buyer_id: int) -> dict[str, str]:
    sale = server.run(make_sale(server.ctx))
    order = server.run(buying.buy(server.ctx, buyer_id, sale.item_id, 1, f"cancel-{uuid.uuid4()}")).order
    return {"id": str(order["id"]), "order_no": str(order["order_no"])}


def accepted_order(server: LiveServer, buyer_id: int) -> str:
    """A paid order whose inventory list customs accepted (``matched``) and has not released."""
    order = _order(server, buyer_id)

    async def accepted(ctx: Context) -> None:
        async with ctx.transaction() as tx:
            start = tx.now - timedelta(hours=1)
            await tx.conn.execute(
                orders.update().where(orders.c.id == order["id"]).values(status="paid", paid_at=start)
            )
            await tx.conn.execute(
                declarations.insert().values(
                    order_id=order["id"],
                    order_no=order["order_no"],
                    trade_mode="1210",
                    state="matched",
                    cop_no=uuid.uuid4().hex[:20].upper(),
                    invt_no="I" + uuid.uuid4().hex[:17].upper(),
                    next_attempt_at=start,
                    created_at=start,
                    updated_at=start,
                )
            )
            at = start + timedelta(minutes=10)
            await milestones.reach_within(tx, order["id"], order["order_no"], Milestone.DECLARED, at)

    server.run(accepted(server.ctx))
    return order["order_no"]


def _fits(page: object) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 390, f"the page is {width}px wide on a 390px phone"


def test_an_unpaid_order_is_cancelled_from_its_page_after_confirming(phone_visit: Visit) -> None:
    server, page = phone_visit.server, phone_visit.page
    buyer = phone_visit.new_buyer()
    order_no = _order(server, buyer)["order_no"]
    page.goto(f"/orders/{order_no}")
    confirm = page.get_by_role("button", name="Yes, cancel the order")
    expect(confirm).to_be_hidden()
    page.locator("[data-cancel-order] summary").click()
    expect(confirm).to_be_visible()
    expect(page.locator(".cancel-confirm")).to_contain_text("Its units go back on sale at once")
    _fits(page)
    phone_visit.snap("confirm")
    confirm.click()
    expect(page).to_have_url(re.compile(r"/orders$"))
    expect(page.locator("[data-flash]")).to_contain_text(f"Order {order_no} is cancelled")
    expect(page.locator(f'[data-order-no="{order_no}"]')).to_have_attribute("data-status", "cancelled")
    _fits(page)
    phone_visit.snap("cancelled")


def test_a_paid_order_customs_accepted_is_withdrawn_from_its_page_in_chinese(
    chinese_phone_visit: Visit,
) -> None:
    visit = chinese_phone_visit
    server, page = visit.server, visit.page
    buyer = visit.new_buyer()
    order_no = accepted_order(server, buyer)
    page.goto(f"/orders/{order_no}")
    panel = page.locator("#cancel")
    expect(panel.get_by_role("heading")).to_have_text("取消此订单")
    expect(panel).to_contain_text("海关已接受申报但尚未放行")
    confirm = panel.get_by_role("button", name="确定取消订单")
    expect(confirm).to_be_hidden()
    panel.locator("summary").click()
    expect(confirm).to_be_visible()
    panel.scroll_into_view_if_needed()
    _fits(page)
    visit.snap("confirm")
    confirm.click()
    expect(page).to_have_url(re.compile(rf"/orders/{order_no}$"))
    expect(page.locator("[data-flash]")).to_contain_text(f"已申请取消订单 {order_no}")
    expect(page.locator("[data-withdrawal-state=requested]")).to_be_visible()
    expect(page.locator("#cancel")).to_have_count(0)  # asked once: no second cancel offered
    _fits(page)
    visit.snap("withdrawal-requested")
