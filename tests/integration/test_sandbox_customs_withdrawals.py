"""The single window holding accepted lists for its officer's release (``hold_release``) and taking
CEB623 withdrawals of them, over its HTTP binding with real messages: an accepted list waits with its
inventory number, no document of it may change any more, a signed CEB623 naming that number withdraws
it (CEB624 399) and gives the buyer's year total back; after release it is refused with the reason; a
release and a withdrawal of one list racing are decided once."""

# ruff: noqa: F811 - the simulator's signer fixture is imported by name from its main test module

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from flashport.ceb import AppType, Receipt, ReceiptKind, SoftwareKeySigner
from flashport.ceb.withdrawals import Withdrawal, cancellation_message
from tests.integration.test_sandbox_customs import (
    PLATFORM_DXP,
    PLATFORM_SENDER,
    Documents,
    bonded_order,
    customs_app,
    declaration,
    inbox,
    running,
    send,
    signer,  # noqa: F401 - fixture
)


@pytest.fixture
async def holding(tmp_path: Path, signer: SoftwareKeySigner) -> AsyncIterator[httpx.AsyncClient]:
    async with running(customs_app(tmp_path, signer, hold_release=True)) as client:
        yield client


async def _accepted(customs: httpx.AsyncClient, signer: SoftwareKeySigner, order_no: str) -> Documents:
    documents = Documents.of(bonded_order(order_no))
    await send(customs, *documents.messages(signer).values())
    return documents


def _withdrawal(documents: Documents, invt_no: str, signer: SoftwareKeySigner) -> bytes:
    return cancellation_message(
        Withdrawal(documents.inventory, invt_no, "买家取消订单", f"C{documents.order.order_no[-12:]}"),
        PLATFORM_SENDER,
        signer=signer,
    )


async def _answers(customs: httpx.AsyncClient) -> list[Receipt]:
    return [r for r in await inbox(customs, PLATFORM_DXP) if r.kind is ReceiptKind.CANCELLATION]


def _year_total(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "customs-sim" / "single-window.sqlite3") as db:
        return int(db.execute("SELECT COALESCE(SUM(released_fen), 0) FROM year_totals").fetchone()[0])


async def test_an_accepted_list_waits_for_release_and_a_ceb623_naming_its_number_withdraws_it(
    holding: httpx.AsyncClient, signer: SoftwareKeySigner, tmp_path: Path
) -> None:
    documents = await _accepted(holding, signer, "FP20260618000701")
    view = await declaration(holding, "FP20260618000701")
    assert view["state"] == "accepted" and len(view["invt_no"]) == 18
    list_receipts = [r for r in await inbox(holding, PLATFORM_DXP) if r.kind is ReceiptKind.INVENTORY]
    assert [r.return_status for r in list_receipts] == [2, 120]  # no 800 while it is held
    assert list_receipts[-1].business_keys["invtNo"] == view["invt_no"]
    assert _year_total(tmp_path) == documents.order.goods_value  # counted from acceptance

    # An accepted list's documents no longer change: only a CEB623 undoes it.
    await send(holding, documents.messages(signer, AppType.CHANGE)["order"])
    assert "withdraw the list with a CEB623" in (await inbox(holding, PLATFORM_DXP))[-1].return_info
    wrong = _withdrawal(documents, "2249" + "2026I000000999", signer)
    await send(holding, wrong)
    assert (await _answers(holding))[-1].return_info.startswith("[unknown_inventory_list] ")

    message = _withdrawal(documents, view["invt_no"], signer)
    await send(holding, message)
    answer = (await _answers(holding))[-1]
    assert answer.return_status == 399 and answer.business_keys["invtNo"] == view["invt_no"]
    after = await declaration(holding, "FP20260618000701")
    assert (after["state"], after["reason_code"]) == ("cancelled", "withdrawn")
    assert after["documents"]["CEB621"] is None and _year_total(tmp_path) == 0
    await send(holding, message)  # the same application again: the same answer, nothing more
    assert [a.return_status for a in await _answers(holding)][-1] == 399 and _year_total(tmp_path) == 0
    late = await holding.post("/admin/declarations/FP20260618000701/release")
    assert (late.status_code, late.json()["code"]) == (409, "not_accepted")
    # The order itself may now be deleted, as the platform does after the withdrawal.
    await send(holding, documents.messages(signer, AppType.DELETE)["order"])
    assert (await inbox(holding, PLATFORM_DXP))[-1].return_status == 120


async def test_a_withdrawal_after_release_or_badly_signed_is_refused_with_its_reason(
    holding: httpx.AsyncClient, signer: SoftwareKeySigner
) -> None:
    documents = await _accepted(holding, signer, "FP20260618000702")
    invt_no = (await declaration(holding, "FP20260618000702"))["invt_no"]
    stranger = SoftwareKeySigner.generate("Anyone at all")
    await send(holding, _withdrawal(documents, invt_no, stranger))
    assert (await _answers(holding))[-1].return_info.startswith("[certificate_not_registered] ")
    released = await holding.post("/admin/declarations/FP20260618000702/release")
    assert released.status_code == 200 and released.json()["state"] == "released"
    assert [r.return_status for r in await inbox(holding, PLATFORM_DXP)][-1] == 800
    again = await holding.post("/admin/declarations/FP20260618000702/release")
    assert again.status_code == 200  # released already: the same answer, no second 800
    assert [r.return_status for r in await inbox(holding, PLATFORM_DXP)].count(800) == 1
    await send(holding, _withdrawal(documents, invt_no, signer))
    refused = (await _answers(holding))[-1]
    assert refused.return_status == 100 and refused.return_info.startswith("[already_released] ")
    assert (await declaration(holding, "FP20260618000702"))["state"] == "released"


async def test_a_release_and_a_withdrawal_racing_for_one_list_are_decided_once(
    holding: httpx.AsyncClient, signer: SoftwareKeySigner
) -> None:
    orders = [f"FP2026061800072{n}" for n in range(8)]
    lists = {}
    for order_no in orders:
        documents = await _accepted(holding, signer, order_no)
        lists[order_no] = _withdrawal(documents, (await declaration(holding, order_no))["invt_no"], signer)
    rng = random.Random(623)  # both orders of arrival happen, the same way on every run

    async def release(order_no: str) -> int:
        await asyncio.sleep(rng.uniform(0, 0.02))
        return (await holding.post(f"/admin/declarations/{order_no}/release")).status_code

    async def withdraw(order_no: str) -> None:
        await asyncio.sleep(rng.uniform(0, 0.02))
        await send(holding, lists[order_no])

    races = [asyncio.gather(release(n), withdraw(n)) for n in orders]
    released = {n: status for n, (status, _) in zip(orders, await asyncio.gather(*races), strict=True)}
    answers = {a.business_keys["invtNo"]: a.return_status for a in await _answers(holding)}
    for order_no in orders:
        view = await declaration(holding, order_no)
        withdrawn = answers[view["invt_no"]] == 399
        assert withdrawn != (released[order_no] == 200), order_no  # exactly one of the two
        assert view["state"] == ("cancelled" if withdrawn else "released")
