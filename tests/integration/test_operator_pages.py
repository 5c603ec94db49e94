"""The compliance officer's declaration pages over HTTP: the list and its state filter and pages, one
declaration with its messages and receipts, the XML download, and re-declaring a rejected one (CSRF,
a consignee correction, and the refusals shown on the page). Only operators get in."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import customs_messages, customs_receipts, declarations, orders
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.domain.declarations import DeclarationState
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.web import session as web_session
from flashport.web.routes import operator as operator_pages
from tests.factories import make_user
from tests.sale_builder import make_buyers, make_sale

CSRF = "test-csrf-token"
ID_NUMBER = "110105199003070025"
CONSIGNEE = {
    "consignee_name": "王伟",
    "consignee_phone": "13800138000",
    "consignee_address": "上海市浦东新区",
}


@dataclass(frozen=True)
class Declared:
    order_no: str
    order_id: str
    message_id: int
    xml: str


@pytest.fixture
async def web(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    # A dotted host, as in test_web_pages: the cookie jar files a dotless one under "test.local", and
    # the session cookie set here would then not be the one the server's answers replace.
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    # The buyer pages here are read in English (the second language; Chinese is the default).
    english = {"accept-language": "en"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as http:
        yield http


async def log_in(client: httpx.AsyncClient, ctx: Context, role: Role) -> int:
    """Give the client the signed session that logging in as a new user of ``role`` would give."""
    user_id, _ = await make_user(ctx, role)
    data = {"uid": user_id, "role": role.value, "name": f"Test {role.value}", "csrf": CSRF}
    cookie = web_session.encode(data, ctx.settings.keys.secret, 3600)
    client.cookies.set(web_session.COOKIE, cookie, domain="shop.test")
    return user_id


async def declared_order(
    ctx: Context, *, state: str = "rejected", reason_code: str | None = "consignee_mismatch"
) -> Declared:
    """A checked-out order's declaration, sent once (version 1) and answered by customs."""
    sale = await make_sale(ctx)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{uuid.uuid4().hex}")).order
    guid = str(uuid.uuid4()).upper()
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ceb:CEB311Message guid="{guid}">'
        f"<ceb:buyerIdNumber>{ID_NUMBER}</ceb:buyerIdNumber></ceb:CEB311Message>\n"
    )
    rejected = state == "rejected"
    async with ctx.transaction() as tx:
        await tx.conn.execute(orders.update().where(orders.c.id == order["id"]).values(**CONSIGNEE))
        declaration_id = await tx.conn.scalar(
            declarations.insert()
            .values(
                order_id=order["id"],
                order_no=order["order_no"],
                trade_mode="1210",
                state=state,
                version=1,
                cop_no=f"COP{uuid.uuid4().hex[:16]}",
                logistics_no=f"LN{uuid.uuid4().hex[:12]}",
                logistics_code="3301980001",
                logistics_name="Sandbox Express",
                reason_code=reason_code if rejected else None,
                reason="consignee name differs from the waybill" if rejected else None,
                attempts=1,
                next_attempt_at=tx.now,
                last_error="single window answered 503" if not rejected else None,
                refund_after=tx.now + timedelta(days=3) if rejected else None,
                created_at=tx.now,
                updated_at=tx.now,
            )
            .returning(declarations.c.id)
        )
        message_id = await tx.conn.scalar(
            customs_messages.insert()
            .values(
                declaration_id=declaration_id,
                kind="CEB311",
                party="platform",
                app_type="1",
                version=1,
                guid=guid,
                body_cipher=ctx.vault.seal(xml) if ctx.vault else "",
                created_at=tx.now,
                sent_at=tx.now,
            )
            .returning(customs_messages.c.id)
        )
        await tx.conn.execute(
            customs_receipts.insert().values(
                declaration_id=declaration_id,
                dxp_id="DXPTEST",
                seq=int(message_id),
                part=0,
                kind="CEB622",
                message_guid=guid,
                return_status=100,
                return_info="[consignee_mismatch] consignee name differs from the waybill",
                return_time=tx.now,
                applied=True,
                body="<CEB622Message/>",
                received_at=tx.now,
            )
        )
    return Declared(order["order_no"], order["id"], int(message_id), xml)


async def declaration_row(ctx: Context, order_no: str) -> Any:
    async with ctx.read() as conn:
        return (await conn.execute(sa.select(declarations).where(declarations.c.order_no == order_no))).one()


async def consignee_of(ctx: Context, order_id: str) -> dict[str, Any]:
    columns = [orders.c.consignee_name, orders.c.consignee_phone, orders.c.consignee_address]
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(*columns).where(orders.c.id == order_id))).one()
    return dict(row._mapping)


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-order-no="([^"]+)"', html)


# --- who gets in -----------------------------------------------------------------------------------


async def test_an_operator_sees_the_list_with_states_reasons_and_a_header_link(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    rejected = await declared_order(ctx)
    pending = await declared_order(ctx, state="pending")
    await log_in(web, ctx, Role.OPERATOR)
    page = await web.get("/operator/declarations")
    assert page.status_code == 200
    html = page.text
    assert listed(html) == [rejected.order_no, pending.order_no]
    assert '<span class="decl-badge decl-badge-rejected">Rejected</span>' in html  # the code, and its label
    assert "<code>consignee_mismatch</code>" in html and "single window answered 503" in html
    assert f'href="/operator/declarations/{rejected.order_no}"' in html
    assert 'href="/operator/declarations" aria-current="page">Declarations</a>' in html
    assert '<a href="/operator/declarations" aria-current="page">All</a>' in html
    assert re.search(r'href="/static/css/operator\.css\?v=\w{12}"', html)
    assert "has_more" not in html and "Next page" not in html


async def test_the_state_filter_shows_only_that_state_and_refuses_an_unknown_one(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    rejected = await declared_order(ctx)
    pending = await declared_order(ctx, state="pending")
    await log_in(web, ctx, Role.OPERATOR)
    assert listed((await web.get("/operator/declarations?state=rejected")).text) == [rejected.order_no]
    assert listed((await web.get("/operator/declarations?state=pending")).text) == [pending.order_no]
    assert listed((await web.get("/operator/declarations?state=all")).text) == [
        rejected.order_no,
        pending.order_no,
    ]
    shipped = await web.get("/operator/declarations?state=shipped")
    assert listed(shipped.text) == [] and "No shipped declarations." in shipped.text
    assert 'href="/operator/declarations?state=shipped" aria-current="page">Shipped <span' in shipped.text
    counts = dict(
        re.findall(r'state=(\w+)"[^>]*>[\w ]+ <span class="state-count">(\d+)</span>', shipped.text)
    )
    every_state = {s.value: "0" for s in DeclarationState} | {"needs_attention": "0"}
    assert counts == every_state | {"pending": "1", "rejected": "1"}
    unknown = await web.get("/operator/declarations?state=lost")
    assert unknown.status_code == 422 and "There is no state “lost” here" in unknown.text
    assert (await web.get("/operator/declarations?after=-1")).status_code == 422


async def test_next_page_follows_the_cursor_and_keeps_the_filter(
    ctx: Context, web: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operator_pages, "PAGE_SIZE", 1)
    first, second = await declared_order(ctx), await declared_order(ctx)
    await declared_order(ctx, state="pending")
    await log_in(web, ctx, Role.OPERATOR)
    page = (await web.get("/operator/declarations?state=rejected")).text
    assert listed(page) == [first.order_no]
    found = re.search(r'href="(/operator/declarations\?state=rejected&amp;after=\d+)" rel="next"', page)
    assert found is not None
    later = (await web.get(found.group(1).replace("&amp;", "&"))).text
    assert listed(later) == [second.order_no] and "Next page" not in later
    assert '<a href="/operator/declarations?state=rejected">First page</a>' in later


async def test_a_buyer_gets_403_and_a_visitor_is_sent_to_log_in(ctx: Context, web: httpx.AsyncClient) -> None:
    declared = await declared_order(ctx)
    paths = [
        "/operator/declarations",
        f"/operator/declarations/{declared.order_no}",
        f"/operator/declarations/{declared.order_no}/messages/{declared.message_id}",
    ]
    for path in paths:
        answer = await web.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}", path
    await log_in(web, ctx, Role.BUYER)
    for path in paths:
        answer = await web.get(path)
        assert answer.status_code == 403, path
        assert "Not allowed" in answer.text
        assert "This page is for operator, customer service; you are logged in as buyer." in answer.text
        assert ID_NUMBER not in answer.text and declared.order_no not in answer.text
    assert "/operator/declarations" not in (await web.get("/")).text  # no header link for buyers
    refused = await web.post(
        f"/operator/declarations/{declared.order_no}/redeclare", data={"csrf_token": CSRF}
    )
    assert refused.status_code == 403
    assert (await declaration_row(ctx, declared.order_no)).state == "rejected"


# --- one declaration -------------------------------------------------------------------------------


async def test_the_detail_page_shows_the_reason_the_deadline_messages_and_receipts(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx)
    await log_in(web, ctx, Role.OPERATOR)
    page = await web.get(f"/operator/declarations/{declared.order_no}")
    assert page.status_code == 200
    html = page.text
    assert "Rejected by customs: <code>consignee_mismatch</code>" in html
    assert '<p class="decl-reason">consignee name differs from the waybill</p>' in html
    assert re.search(r"Re-declare by <time datetime=\"[^\"]+Z\">", html)
    assert "Sandbox Express" in html and "3301980001" in html
    assert "CEB311" in html and "platform" in html and "new <span" in html
    link = f'href="/operator/declarations/{declared.order_no}/messages/{declared.message_id}" download'
    assert link in html
    assert "CEB622" in html and "[consignee_mismatch] consignee name differs" in html and ">applied<" in html
    assert f'action="/operator/declarations/{declared.order_no}/redeclare"' in html
    assert f'name="csrf_token" value="{CSRF}"' in html and "Re-declare as version 2" in html
    assert 'id="consignee_name" name="consignee_name" value=""' in html  # never prefilled
    assert ID_NUMBER not in html and "王伟" not in html and "13800138000" not in html


async def test_a_declaration_that_is_not_rejected_offers_no_re_declare_form(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx, state="pending")
    await log_in(web, ctx, Role.OPERATOR)
    html = (await web.get(f"/operator/declarations/{declared.order_no}")).text
    assert "/redeclare" not in html and "Rejected by customs" not in html
    assert "Last sending error" in html and "single window answered 503" in html
    assert (await web.get("/operator/declarations/FP-NO-SUCH-ORDER")).status_code == 404


async def test_a_message_downloads_as_the_exact_xml_and_is_never_cached(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared, other = await declared_order(ctx), await declared_order(ctx)
    await log_in(web, ctx, Role.OPERATOR)
    answer = await web.get(f"/operator/declarations/{declared.order_no}/messages/{declared.message_id}")
    assert answer.status_code == 200
    assert answer.content == declared.xml.encode("utf-8") and ID_NUMBER in answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="CEB311-') and disposition.endswith('.xml"')
    assert declared.order_no in disposition and "-v1-" in disposition
    assert answer.headers["cache-control"] == "no-store"
    mixed = f"/operator/declarations/{declared.order_no}/messages/{other.message_id}"
    assert (await web.get(mixed)).status_code == 404  # another declaration's message


# --- re-declaring ----------------------------------------------------------------------------------


async def test_re_declaring_without_the_csrf_token_is_refused_and_changes_nothing(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx)
    await log_in(web, ctx, Role.OPERATOR)
    path = f"/operator/declarations/{declared.order_no}/redeclare"
    assert (await web.post(path, data={})).status_code == 403
    assert (await web.post(path, data={"csrf_token": "guess"})).status_code == 403
    row = await declaration_row(ctx, declared.order_no)
    assert (row.state, row.version) == ("rejected", 1)


async def test_re_declaring_moves_it_to_pending_under_the_next_version_and_redirects(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx)
    await log_in(web, ctx, Role.OPERATOR)
    empty = {name: "" for name in (*CONSIGNEE, "consignee_district")}
    answer = await web.post(
        f"/operator/declarations/{declared.order_no}/redeclare", data={"csrf_token": CSRF, **empty}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/operator/declarations/{declared.order_no}"
    row = await declaration_row(ctx, declared.order_no)
    assert (row.state, row.version, row.refund_after, row.attempts) == ("pending", 2, None, 0)
    assert await consignee_of(ctx, declared.order_id) == CONSIGNEE  # nothing typed, nothing corrected
    html = (await web.get(answer.headers["location"])).text
    assert f"Declaration of {declared.order_no} sent again, as version 2." in html
    assert '<span class="decl-badge decl-badge-pending">Pending</span>' in html and "/redeclare" not in html


async def test_re_declaring_with_a_consignee_correction_stores_it(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx)
    await log_in(web, ctx, Role.OPERATOR)
    fix = {"consignee_name": "李娜", "consignee_phone": "139 0000 1111", "consignee_address": "杭州市西湖区"}
    answer = await web.post(
        f"/operator/declarations/{declared.order_no}/redeclare", data={"csrf_token": CSRF, **fix}
    )
    assert answer.status_code == 303
    assert (await declaration_row(ctx, declared.order_no)).version == 2
    assert await consignee_of(ctx, declared.order_id) == {**fix, "consignee_phone": "13900001111"}
    html = (await web.get(answer.headers["location"])).text
    assert "sent again with the consignee corrected, as version 2." in html


async def test_re_declaring_one_that_is_not_rejected_shows_the_409_reason(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx, state="released")
    await log_in(web, ctx, Role.OPERATOR)
    answer = await web.post(
        f"/operator/declarations/{declared.order_no}/redeclare", data={"csrf_token": CSRF}
    )
    assert answer.status_code == 409 and answer.headers["content-type"].startswith("text/html")
    assert "Only a rejected declaration can be re-declared" in answer.text
    assert f"Declaration of {declared.order_no} is released; only a rejected one can be re-declared." in (
        answer.text
    )
    row = await declaration_row(ctx, declared.order_no)
    assert (row.state, row.version) == ("released", 1)


async def test_a_bad_phone_in_the_correction_is_shown_beside_it_and_changes_nothing(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx)
    await log_in(web, ctx, Role.OPERATOR)
    fix = {"consignee_name": "李娜", "consignee_phone": "12345", "consignee_address": "杭州市西湖区"}
    answer = await web.post(
        f"/operator/declarations/{declared.order_no}/redeclare", data={"csrf_token": CSRF, **fix}
    )
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert 'id="consignee_phone-error"' in html
    assert "Enter a mainland China mobile number: 11 digits starting 13-19." in html
    assert 'href="#consignee_phone">Mobile number:' in html  # the summary above the form
    assert 'name="consignee_phone" value="12345"' in html and 'value="李娜"' in html  # kept as typed
    row = await declaration_row(ctx, declared.order_no)
    assert (row.state, row.version, row.reason_code) == ("rejected", 1, "consignee_mismatch")
    assert await consignee_of(ctx, declared.order_id) == CONSIGNEE


@pytest.mark.parametrize(
    ("state", "badge"),
    [
        ("pending", "Paid"),
        ("rejected", "Customs check"),
        ("released", "Cleared customs"),
        ("shipped", "Shipped"),
    ],
)
async def test_the_buyer_sees_where_customs_has_got_with_a_paid_order(
    ctx: Context, web: httpx.AsyncClient, state: str, badge: str
) -> None:
    declared = await declared_order(ctx, state=state)
    async with ctx.transaction() as tx:
        buyer = await tx.conn.scalar(
            orders.update()
            .where(orders.c.id == declared.order_id)
            .values(status="paid", paid_at=tx.now)
            .returning(orders.c.buyer_id)
        )
    data = {"uid": buyer, "role": Role.BUYER.value, "name": "Test buyer", "csrf": CSRF}
    web.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )
    page = await web.get("/orders")
    assert page.status_code == 200
    assert f">{badge}</p>" in page.text
    assert ID_NUMBER not in page.text
    mine = await web.get(f"/orders/{declared.order_no}")
    assert mine.status_code == 200 and badge in mine.text
