"""The customs simulator takes a message of many orders set-based: each document is still filed,
answered and matched on its own (one refused document holds back none of the others, two lists of one
buyer in one message both count toward the year's limit), and a message costs the same few statements
whether it carries 5 orders or 20."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections import Counter
from collections.abc import Iterator, Sequence

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from flashport.ceb import (
    ReceiptKind,
    SoftwareKeySigner,
    inventory_message,
    order_message,
    payment_message,
    waybill_message,
)
from flashport.sandbox_customs import reasons
from flashport.sandbox_customs.refusals import DUPLICATE_COP_NO
from tests.integration.test_sandbox_customs import (
    APP_TIME,
    CARRIER_SENDER,
    LI_NA,
    PAYMENT_SENDER,
    PLATFORM_DXP,
    PLATFORM_SENDER,
    Documents,
    bonded_order,
    customs,  # noqa: F401 - the simulator over HTTP, a fixture
    customs_app,
    customs_sim,  # noqa: F401 - the simulator app, a fixture
    declaration,
    inbox,
    running,
    send,
    signer,  # noqa: F401 - the module-scoped signing key, a fixture
    watch_order,
)


def batch_messages(batch: Sequence[Documents], key: SoftwareKeySigner) -> list[bytes]:
    """The four messages of a batch of orders, one per kind, each carrying every order's document."""
    return [
        order_message([d.order for d in batch], PLATFORM_SENDER, app_time=APP_TIME),
        payment_message([d.payment for d in batch], PAYMENT_SENDER, app_time=APP_TIME),
        waybill_message([d.waybill for d in batch], CARRIER_SENDER, app_time=APP_TIME),
        inventory_message([d.inventory for d in batch], PLATFORM_SENDER, signer=key),
    ]


def orders(first: int, count: int) -> list[Documents]:
    return [Documents.of(bonded_order(f"FP20260619{n:06d}")) for n in range(first, first + count)]


@dataclasses.dataclass
class Statements:
    count: int = 0


@contextlib.contextmanager
def counting(app: Starlette) -> Iterator[Statements]:
    """Every statement the simulator's database runs, counted while the ``with`` lasts."""
    engine = app.state.single_window._db.engine.sync_engine
    counted = Statements()

    def count(*_: object) -> None:
        counted.count += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


async def test_a_batch_releases_every_good_order_and_refuses_the_bad_ones_alone(
    customs: httpx.AsyncClient,  # noqa: F811
    signer: SoftwareKeySigner,  # noqa: F811
) -> None:
    earlier = orders(1, 1)[0]
    await send(customs, *batch_messages([earlier], signer))
    batch = orders(10, 5)
    # One buyer who is not the payer: the match rejects it. One list reusing the earlier order's copNo:
    # refused as a duplicate, not filed.
    batch[1] = dataclasses.replace(batch[1], inventory=dataclasses.replace(batch[1].inventory, buyer=LI_NA))
    batch[3] = dataclasses.replace(
        batch[3], inventory=dataclasses.replace(batch[3].inventory, cop_no=earlier.inventory.cop_no)
    )
    messages = batch_messages(batch, signer)
    await send(customs, *messages)

    states = [(await declaration(customs, d.order.order_no)).get("state") for d in batch]
    assert states == ["released", "rejected", "released", None, "released"]
    assert (await declaration(customs, batch[1].order.order_no))["reason_code"] == reasons.BUYER_MISMATCH
    verdicts = [r for r in await inbox(customs, PLATFORM_DXP) if r.kind is ReceiptKind.INVENTORY]
    by_list: dict[str, list[int]] = {}  # a CEB622 names its list by copNo
    for receipt in verdicts:
        by_list.setdefault(receipt.business_keys["copNo"], []).append(receipt.return_status)
    assert by_list == {
        earlier.inventory.cop_no: [2, 120, 800, 100],  # the duplicate's refusal names the number it used
        batch[0].inventory.cop_no: [2, 120, 800],
        batch[1].inventory.cop_no: [2, 100],
        batch[2].inventory.cop_no: [2, 120, 800],
        batch[4].inventory.cop_no: [2, 120, 800],
    }
    # Each list's receipts side by side in the inbox, as if its documents had come one by one: a reader
    # paging through it never finds a list's verdict a page before the receipt that it was taken.
    sides = [key for key, _ in itertools.groupby(r.business_keys["copNo"] for r in verdicts[3:])]
    assert len(sides) == len(set(sides))
    duplicate = [r for r in verdicts if r.business_keys["copNo"] == earlier.inventory.cop_no][-1]
    assert duplicate.return_info.startswith(f"[{DUPLICATE_COP_NO}] ")
    assert earlier.order.order_no in duplicate.return_info
    # The very same messages again (a lost answer): nothing filed is filed or answered twice; the
    # refused duplicate, never filed, is refused again.
    await send(customs, *messages)
    again = [r for r in await inbox(customs, PLATFORM_DXP) if r.kind is ReceiptKind.INVENTORY]
    added = Counter(r.return_status for r in again) - Counter(r.return_status for r in verdicts)
    assert added == Counter({100: 1}) and again[-1].return_info == duplicate.return_info


async def test_two_lists_of_one_buyer_in_one_message_both_count_toward_the_year(
    tmp_path,
    signer: SoftwareKeySigner,  # noqa: F811
) -> None:
    # 26,000 CNY a year: two watches of 13,000.01 CNY in one message, the second goes over.
    batch = [Documents.of(watch_order(f"FP2026061900{n:04d}", 1_300_001)) for n in (71, 72)]
    async with running(customs_app(tmp_path, signer, check_tax=False)) as client:
        await send(client, *batch_messages(batch, signer))
        states = [(await declaration(client, d.order.order_no))["state"] for d in batch]
        refused = await declaration(client, batch[1].order.order_no)
    assert states == ["released", "rejected"]
    assert refused["reason_code"] == reasons.ANNUAL_LIMIT_EXCEEDED


@pytest.mark.parametrize("kind", [0, 1, 2, 3], ids=["CEB311", "CEB411", "CEB511", "CEB621"])
async def test_a_message_costs_the_same_statements_for_5_orders_as_for_20(
    customs_sim: Starlette,  # noqa: F811
    customs: httpx.AsyncClient,  # noqa: F811
    signer: SoftwareKeySigner,  # noqa: F811
    kind: int,
) -> None:
    counts = []
    for first, count in ((100, 5), (200, 20)):
        messages = batch_messages(orders(first, count), signer)
        await send(customs, *messages[:kind])
        with counting(customs_sim) as counted:
            await send(customs, messages[kind])
        await send(customs, *messages[kind + 1 :])
        counts.append(counted.count)
    assert counts[0] == counts[1]
    listed = (await customs.get("/declarations", params={"state": "released"})).json()["declarations"]
    assert len(listed) == 25
