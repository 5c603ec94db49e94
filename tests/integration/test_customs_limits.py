"""The customs simulator measures the limits as the platform does (the dutiable value: goods + freight
+ insurance, no tax) and counts the year of the payment; the platform's declTime is the date in China.
Real parties over loopback HTTP, as in test_declarations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from flashport.ceb.xml import CEB_NS
from flashport.domain.limits import china_date
from tests.integration import test_declarations
from tests.integration.test_declarations import Parties

parties = test_declarations.parties  # the four real parties, as a fixture of this module too


# Two orders of 99.00 with 10.00 freight: 218.00 of dutiable value in all, 237.84 with their tax.
@pytest.mark.parametrize("parties", [{"annual_limit_fen": 21_800}], indirect=True)
async def test_customs_releases_a_buyer_reaching_the_annual_limit_with_freight_and_without_tax(
    parties: Parties,
) -> None:
    parties.ctx.settings = parties.ctx.settings.model_copy(update={"freight_fen": 1_000})
    first = await parties.paid_order()
    await parties.work_until(first, "shipped")
    second = await parties.paid_order()
    await parties.work_until(second, "shipped")


@pytest.mark.parametrize("parties", [{"annual_limit_fen": 21_799}], indirect=True)
async def test_customs_refuses_one_fen_past_the_annual_limit_counting_freight(parties: Parties) -> None:
    parties.ctx.settings = parties.ctx.settings.model_copy(update={"freight_fen": 1_000})
    first = await parties.paid_order()
    await parties.work_until(first, "shipped")
    second = await parties.paid_order()
    await parties.work_until(second, "refunded")
    assert (await parties.detail(second))["reason_code"] == "annual_limit_exceeded"


def _next_utc(hour: int, minute: int) -> datetime:
    now = datetime.now(UTC)
    moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return moment if moment > now else moment + timedelta(days=1)


async def test_decl_time_is_the_date_in_china_at_07_30_there(parties: Parties) -> None:
    # 23:30 UTC is 07:30 the next morning in Shanghai: the UTC date would be yesterday's there.
    target = _next_utc(23, 30)
    offset = target - datetime.now(UTC)
    parties.ctx.clock = lambda: datetime.now(UTC) + offset
    order_no = await parties.paid_order()
    await parties.work_until(order_no, "shipped")
    detail = await parties.detail(order_no)
    [inventory] = [m for m in detail["messages"] if m["kind"] == "CEB621"]
    body = (await parties.platform.get(f"/api/v1/declarations/{order_no}/messages/{inventory['id']}")).content
    decl_time = etree.fromstring(body).findtext(f".//{{{CEB_NS}}}declTime")
    assert decl_time == china_date(target).strftime("%Y%m%d")
    assert decl_time != target.strftime("%Y%m%d")
