"""Notifications and the waitlist in a real browser on a phone: join a sold-out item's waitlist, see
one's place, be told when units come back; ask to be reminded of an upcoming sale; turn kinds of
message off in Chinese. Screenshots under ``artifacts/screenshots/``."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from flashport.adapters.db.notify_schema import notifications
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.notify import preferences, queueing, reminders, sending
from flashport.services.orders import lifecycle as order_service
from flashport.services.sales import buying
from tests.e2e.conftest import LiveServer, Visit
from tests.factories import make_user
from tests.sale_builder import make_sale
from tests.waiting import DEADLINE_SECONDS


def fits(visit: Visit) -> None:
    overflow = visit.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{visit.page.url} scrolls sideways by {overflow}px"


def sent_to(server: LiveServer, buyer_id: int) -> list[Any]:
    async def read(ctx: Context) -> list[Any]:
        await queueing.queue_from_outbox(ctx)
        await sending.send_due(ctx)
        async with ctx.read() as conn:
            query = sa.select(notifications.c.kind, notifications.c.status).where(
                notifications.c.user_id == buyer_id
            )
            return list((await conn.execute(query)).all())

    return server.run(read(server.ctx))


def test_a_buyer_waits_for_a_sold_out_item_and_is_told_when_a_unit_comes_back(phone_visit: Visit) -> None:
    server, page = phone_visit.server, phone_visit.page
    sale = server.run(make_sale(server.ctx, quantity=1, limit=1))
    holder, _ = server.run(make_user(server.ctx, Role.BUYER))
    order = server.run(buying.buy(server.ctx, holder, sale.item_id, 1, "the-last-unit")).order
    buyer = phone_visit.new_buyer()
    page.goto(f"/items/{sale.item_id}")
    waitlist = page.locator("#waitlist")
    expect(waitlist).to_be_visible()
    fits(phone_visit)
    phone_visit.snap("sold-out-with-waitlist")
    waitlist.get_by_role("button", name="Join the waitlist").click()
    expect(page).to_have_url(re.compile(rf"/items/{sale.item_id}#waitlist$"))
    expect(page.locator("[data-waitlist-place]")).to_have_text(re.compile("You are next"))
    fits(phone_visit)
    phone_visit.snap("on-the-waitlist")
    server.run(order_service.cancel_by_buyer(server.ctx, holder, str(order["order_no"])))

    def told() -> bool:
        return ("waitlist", "sent") in sent_to(server, buyer)

    deadline = time.monotonic() + DEADLINE_SECONDS  # notifier passes until the cancellation is read
    while not told():
        assert time.monotonic() < deadline, "the waiting buyer was not told"
    page.reload()
    expect(page.locator('[data-waitlist-place="told"]')).to_be_visible()
    expect(page.locator("[data-buy-button]")).to_be_enabled()
    phone_visit.snap("told-units-back")


def test_a_buyer_asks_to_be_reminded_of_an_upcoming_sale(phone_visit: Visit) -> None:
    server, page = phone_visit.server, phone_visit.page
    sale = server.run(make_sale(server.ctx, starts_in=timedelta(hours=5)))
    buyer = phone_visit.new_buyer()
    page.goto(f"/events/{sale.event_id}")
    button = page.get_by_role("button", name="Remind me when it opens")
    expect(button).to_be_visible()
    fits(phone_visit)
    button.click()
    expect(page.get_by_text("Reminder set: we will tell you when this sale opens.")).to_be_visible()
    phone_visit.snap("reminder-set")
    assert server.run(reminders.is_reminded(server.ctx, buyer, sale.event_id))


def test_a_chinese_buyer_turns_shipping_messages_off(chinese_phone_visit: Visit) -> None:
    visit = chinese_phone_visit
    server, page = visit.server, visit.page
    buyer = visit.new_buyer()
    page.goto("/account/notifications")
    expect(page.get_by_role("heading", name="消息通知")).to_be_visible()
    fits(visit)
    visit.snap("preferences")
    page.get_by_label("已发货").uncheck()
    page.locator("#mobile").fill("138 0013 8000")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("通知设置已保存。")).to_be_visible()
    expect(page.get_by_label("已发货")).not_to_be_checked()
    visit.snap("preferences-saved")
    prefs = server.run(preferences.of_buyer(server.ctx, buyer))
    assert {k.value for k in prefs.muted} == {"shipped"} and prefs.mobile == "13800138000"
    assert prefs.language == "zh-CN"
