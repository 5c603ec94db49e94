"""The operator console and the supplier portal in a real browser (issue 16 point 5): build an event
from a new brand to a live sale a buyer buys from and the live board shows (the server's clock is moved
past the pre-heat, then past the start, never waited for); pause and resume an item while buyers buy;
find and refund an order; a supplier checks its sales and downloads its statement.

Every page is kept as a screenshot at desktop and tablet sizes under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from flashport.adapters.db.schema import orders, products, sale_items, skus
from flashport.domain.accounts import Role
from flashport.domain.calendar import CHINA
from flashport.domain.errors import DomainError
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.payments import settlement as payment_service
from flashport.services.sales import buying
from tests.clocks import ShiftedClock
from tests.e2e.conftest import DESKTOP, LiveServer, Visit
from tests.factories import make_user
from tests.sale_builder import Sale, make_buyers, make_sale

TABLET = {"width": 820, "height": 1180}
DEMO_PAYER = ("李娜", "110105199003070025")  # the sandbox payment page's prefilled payer


def shots(visit: Visit, label: str) -> None:
    """The page as it is now, at desktop and at tablet size."""
    visit.snap(label)
    visit.page.set_viewport_size(TABLET)
    visit.snap(f"{label}-tablet")
    visit.page.set_viewport_size(DESKTOP)


def log_in(visit: Visit, role: Role, supplier_id: int | None = None) -> int:
    user_id, _ = visit.server.run(make_user(visit.server.ctx, role, supplier_id))
    visit.context.clear_cookies()
    visit.log_in_as(user_id, role)
    return user_id


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xc8\x10\x2e")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_a_merchandiser_builds_an_event_from_a_new_brand_to_a_live_sale_a_buyer_buys_from(
    visit: Visit,
) -> None:
    page, tag = visit.page, uuid.uuid4().hex[:6]
    log_in(visit, Role.MERCHANDISER)
    page.goto("/operator")
    shots(visit, "console-home")
    page.get_by_role("link", name="Catalog", exact=True).first.click()
    expect(page.get_by_role("heading", name="Catalog", exact=True)).to_be_visible()

    page.get_by_text("New brand").click()
    page.get_by_label("Name", exact=True).first.fill(f"Aptamil {tag}")
    page.locator("#brands-country").fill("DE")
    page.get_by_role("button", name="Add the brand").click()
    expect(page.locator("[data-flash]")).to_contain_text("Brand")
    page.get_by_text("New supplier").click()
    page.locator("#suppliers-name").fill(f"Nutricia {tag}")
    page.locator("#suppliers-country").fill("DE")
    page.get_by_role("button", name="Add the supplier").click()
    page.get_by_text("New warehouse").click()
    page.locator("#warehouses-code").fill(f"HZ-{tag}")
    page.locator("#warehouses-name").fill("Hangzhou bonded")
    page.locator("#warehouses-customs_district").fill("3105")
    page.locator("#warehouses-area_code").fill("3105W60001")
    page.get_by_role("button", name="Add the warehouse").click()
    expect(page.locator("[data-flash]")).to_contain_text("Warehouse")

    page.get_by_text("New product").click()
    page.locator("#products-brand_id").select_option(label=f"Aptamil {tag}")
    page.locator("#products-supplier_id").select_option(label=f"Nutricia {tag}")
    page.locator("#products-title").fill("Aptamil Pronutra 1")
    page.locator("#products-declared_name").fill("爱他美婴儿配方奶粉1段")
    page.locator("#products-origin_country").fill("DE")
    page.locator("#products-hs_code").fill("0402290000")
    page.locator("#products-legal_unit").fill("035")
    page.locator("#products-tax_category").select_option("reduced_vat")
    page.locator("#products-image").set_input_files(
        {"name": "tin.png", "mimeType": "image/png", "buffer": png()}
    )
    shots(visit, "catalog-new-product")
    page.get_by_role("button", name="Create the product").click()
    expect(page.locator("[data-image]")).to_have_count(1)

    page.get_by_text("New SKU").click()
    for name, value in {
        "code": f"APT-{tag}",
        "title": "800 g tin",
        "original_price": "298.00",
        "weight_grams": "1100",
        "unit": "122",
        "gmodel": "品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖、植物油",
        "net_content": "800",
        "net_content_unit": "g",
        "net_weight_grams": "800",
        "packaging_weight_grams": "300",
        "item_record_no": f"T3105W{tag}-1",
    }.items():
        page.locator(f"#skus-{name}").fill(value)
    page.get_by_role("button", name="Add the SKU").click()
    # The warehouse made above, by name: in the shared browser-test database it need not be listed first.
    page.locator("select[name=warehouse_id]").select_option(
        label=page.locator("select[name=warehouse_id] option", has_text=f"HZ-{tag}").inner_text()
    )
    page.get_by_label("Units on hand").fill("50")
    page.get_by_role("button", name="Count").click()
    expect(page.locator("[data-stock]")).to_contain_text("50 on hand")
    shots(visit, "catalog-product")
    sku_id = page.locator("input[name=sku_id]").first.get_attribute("value")
    warehouse_id = page.locator("select[name=warehouse_id] option", has_text=f"HZ-{tag}").get_attribute(
        "value"
    )

    page.goto("/operator/calendar")
    page.get_by_role("link", name="New event").click()
    now = visit.server.ctx.clock().astimezone(CHINA)
    page.get_by_label("Title").fill(f"Baby week {tag}")
    page.get_by_label("Channel").fill(f"channel-{tag}")
    page.get_by_label("Starts (China time)").fill((now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends (China time)").fill((now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    # Shown while typing, before any save: the event is too short.
    expect(page.locator("[data-problem-for=ends_at]")).to_contain_text("between 5 and 10 days")
    shots(visit, "event-too-short")
    page.get_by_label("Ends (China time)").fill((now + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("[data-problem-for=ends_at]")).to_have_text("")
    # A pre-heat after the start is refused while typing; two hours before it is fine.
    page.get_by_label("Pre-heat from (China time, optional)").fill(
        (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    )
    expect(page.locator("[data-problem-for=preheat_at]")).to_contain_text("before the start")
    page.get_by_label("Pre-heat from (China time, optional)").fill(
        (now + timedelta(hours=22)).strftime("%Y-%m-%dT%H:%M")
    )
    expect(page.locator("[data-problem-for=preheat_at]")).to_have_text("")
    page.get_by_role("button", name="Create the draft").click()
    expect(page.locator("[data-flash]")).to_contain_text("created as a draft")

    page.get_by_label("SKU id").fill(str(sku_id))
    page.get_by_label("Warehouse id").fill(str(warehouse_id))
    expect(page.locator("[data-facts]")).to_contain_text("sale price ¥29.80 to ¥149.00")
    page.get_by_label("Sale price (¥)").fill("20.00")
    expect(page.locator("[data-problem-for=sale_price]")).to_contain_text("between 10% and 50%")
    page.get_by_label("Units to allot").fill("60")
    expect(page.locator("[data-problem-for=quantity]")).to_contain_text("only 50 units are free")
    shots(visit, "item-problems-while-typing")
    page.get_by_label("Sale price (¥)").fill("99.00")
    page.get_by_label("Units to allot").fill("40")
    expect(page.locator("[data-problem-for=sale_price]")).to_have_text("")
    expect(page.locator("[data-problem-for=quantity]")).to_have_text("")
    page.get_by_role("button", name="Add the item").click()
    expect(page.locator("[data-item-id]")).to_have_count(1)
    page.get_by_text("Schedule", exact=True).click()
    page.get_by_role("button", name="Yes, schedule").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "scheduled")
    expect(page.locator("[data-status]")).to_have_text("Scheduled")  # the state's label (English browser)
    shots(visit, "event-scheduled")
    item_id = page.locator("[data-item-id]").first.get_attribute("data-item-id")
    page.get_by_role("link", name="Calendar").first.click()
    expect(page.get_by_role("link", name=f"Baby week {tag}").first).to_be_visible()
    expect(page.get_by_role("link", name=f"Pre-heat · Baby week {tag}").first).to_be_visible()
    shots(visit, "calendar")

    # Before its pre-heat, buyers do not see the sale at all.
    visit.context.clear_cookies()
    visit.new_buyer()
    page.goto(f"/items/{item_id}")
    expect(page.get_by_role("button", name="Buy now")).to_have_count(0)
    expect(page.locator("h1")).to_contain_text("Not found")
    _buy_once_live(visit, str(item_id))


def _buy_once_live(visit: Visit, item_id: str) -> None:
    """Move the server's clock 23 hours on (past the pre-heat, before the start): the sale is coming
    soon, without a buy button; then a day and two minutes on (past the start): the sale is live, a
    buyer buys one unit, and the merchandiser sees it on the live board. The server's own clock comes
    back whatever happens."""
    server, page = visit.server, visit.page
    real_clock, shifted = server.ctx.clock, ShiftedClock()
    shifted.advance(timedelta(hours=23))
    server.ctx.clock = shifted
    try:
        page.goto(f"/items/{item_id}")
        expect(page.locator("[data-sale-state]")).to_have_attribute("data-sale-state", "upcoming")
        expect(page.get_by_role("button", name="Buy now")).to_have_count(0)
        shots(visit, "item-coming-soon")
        shifted.advance(timedelta(hours=1, minutes=2))
        page.goto(f"/items/{item_id}")
        expect(page.locator("[data-sale-state]")).to_have_attribute("data-sale-state", "live")
        shots(visit, "item-live")
        page.get_by_role("button", name="Buy now").click()
        expect(page).to_have_url(re.compile(r"/orders$"))
        expect(page.locator("[data-flash]")).to_contain_text("Reserved! Order")
        shots(visit, "bought")

        log_in(visit, Role.MERCHANDISER)
        page.goto("/operator/board")
        row = page.locator(f"[data-item-id='{item_id}']")
        # The board is rebuilt at most once a second and its script refreshes the row: waited for.
        expect(row.locator("[data-field=reserved]")).to_have_text("1")
        expect(row.locator("[data-field=sold]")).to_have_text("1")
        expect(row.locator("[data-field=left]")).to_have_text("39")
        expect(page.locator("[data-board-stamp] time")).to_contain_text("(China time)")
        shots(visit, "board-live-purchase")
    finally:
        server.ctx.clock = real_clock


def _buys(server: LiveServer, buyer: int, sale: Sale) -> str | None:
    async def attempt(ctx: Context) -> str | None:
        try:
            await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{uuid.uuid4().hex}")
        except DomainError as exc:
            return exc.code
        return None

    return server.run(attempt(server.ctx))


def test_an_operator_pauses_and_resumes_an_item_while_buyers_buy(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=50, limit=1))
    buyers = iter(server.run(make_buyers(server.ctx, 6)))
    assert _buys(server, next(buyers)[0], sale) is None
    log_in(visit, Role.OPERATOR)
    page.goto("/operator/board")
    row = page.locator(f"[data-item-id='{sale.item_id}']")
    expect(row).to_be_visible()
    shots(visit, "board")
    row.get_by_text("Pause", exact=True).click()
    row.get_by_role("button", name="Yes, pause").click()
    expect(page.locator("[data-flash]")).to_contain_text(f"Item {sale.item_id} paused.")
    shots(visit, "board-paused")

    def refused_while_paused() -> bool:
        return _buys(server, next(buyers)[0], sale) == "sale_paused"

    assert refused_while_paused()  # this process's terms are refreshed by the pause itself
    page.locator(f"[data-item-id='{sale.item_id}']").get_by_text("Resume", exact=True).click()
    page.locator(f"[data-item-id='{sale.item_id}']").get_by_role("button", name="Yes, resume").click()
    expect(page.locator("[data-flash]")).to_contain_text(f"Item {sale.item_id} resumed.")
    assert _buys(server, next(buyers)[0], sale) is None


def _paid_order_ready_to_pay(server: LiveServer) -> tuple[str, str]:
    """A checked-out order of the demo payer; (order number, the provider's payment page)."""

    async def prepare(ctx: Context) -> tuple[str, str]:
        sale = await make_sale(ctx, quantity=5, limit=1)
        [(buyer, _)] = await make_buyers(ctx, 1)
        order = (await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{uuid.uuid4().hex}")).order
        identity = await identities.add_identity(ctx, buyer, *DEMO_PAYER, "13700137000")
        form = checkout.CheckoutForm("王伟", "13912345678", "上海市浦东新区世纪大道100号", None, identity.id)
        await checkout.check_out(ctx, buyer, order["order_no"], form)
        payment = await payment_service.start_payment(ctx, buyer, order["order_no"])
        return str(order["order_no"]), payment.redirect_url

    return server.run(prepare(server.ctx))


def test_customer_service_finds_an_order_by_phone_and_refunds_it(visit: Visit) -> None:
    server, page = visit.server, visit.page
    order_no, pay_url = _paid_order_ready_to_pay(server)
    page.goto(pay_url)
    page.get_by_role("button", name="Confirm payment").click()
    log_in(visit, Role.CUSTOMER_SERVICE)
    page.goto("/operator/orders")
    page.get_by_label("Order, buyer or phone").fill("13912345678")
    page.get_by_role("button", name="Find").click()
    expect(page.locator(f"[data-order='{order_no}']")).to_be_visible()
    shots(visit, "orders-found")
    page.get_by_role("link", name=order_no).click()
    expect(page.locator("[data-event='order.paid']")).to_be_visible(timeout=15000)  # the payment's notice
    page.reload()
    shots(visit, "order-story")
    page.get_by_text("Refund…").click()
    page.get_by_label("Reason (kept with the refund and in the audit log)").fill("Tin dented on arrival")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Refund ¥[\d.]+ for order"))).to_be_visible()
    shots(visit, "refund-confirm")
    page.get_by_role("button", name=re.compile(r"^Yes, refund")).click()
    expect(page.locator("[data-flash]")).to_contain_text("confirmed by the provider")
    expect(page.locator("[data-staff-action='order.refunded']")).to_be_visible()
    shots(visit, "order-refunded")
    page.get_by_role("link", name="Refunds", exact=True).first.click()
    expect(page.locator("[data-refund]").first).to_contain_text("Tin dented on arrival")
    shots(visit, "refunds")
    page.get_by_role("link", name="Payments", exact=True).first.click()
    shots(visit, "payments")


def test_a_supplier_checks_its_sales_and_downloads_its_statement(visit: Visit) -> None:
    server, page = visit.server, visit.page

    async def sold(ctx: Context) -> tuple[int, int, str]:
        sale = await make_sale(ctx, quantity=5, limit=1)
        [(buyer, _)] = await make_buyers(ctx, 1)
        order = (await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{uuid.uuid4().hex}")).order
        async with ctx.transaction() as tx:
            await tx.conn.execute(
                orders.update().where(orders.c.id == order["id"]).values(status="paid", paid_at=tx.now)
            )
            supplier_id = await tx.conn.scalar(
                sa.select(products.c.supplier_id)
                .join(skus, skus.c.product_id == products.c.id)
                .join(sale_items, sale_items.c.sku_id == skus.c.id)
                .where(sale_items.c.id == sale.item_id)
            )
        return int(supplier_id), sale.event_id, str(order["order_no"])

    supplier_id, event_id, order_no = server.run(sold(server.ctx))
    log_in(visit, Role.SUPPLIER, supplier_id)
    page.goto("/")
    page.get_by_role("link", name="My sales").click()
    row = page.locator(f"[data-event-id='{event_id}']")
    expect(row.locator("[data-field=units]")).to_have_text("1")
    expect(row.locator("[data-field=waiting]")).to_have_text("1")
    shots(visit, "supplier-sales")
    row.get_by_role("link").first.click()
    expect(page.locator(f"[data-line='{order_no}']")).to_be_visible()
    shots(visit, "supplier-statement")
    with page.expect_download() as downloading:
        page.locator("[data-download]").click()
    download: Any = downloading.value
    assert download.suggested_filename == f"statement-supplier{supplier_id}-event{event_id}.csv"
    assert order_no in Path(download.path()).read_text(encoding="utf-8-sig")
