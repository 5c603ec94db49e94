"""The customs simulator's three-document match, as a pure function: one test per reason code, the
documents that agree, the indivisible-item exception and the annual limit's boundary."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

import pytest

from flashport.ceb.formatting import CHINA_STANDARD_TIME
from flashport.sandbox_customs import reasons
from flashport.sandbox_customs.checks import Limits
from flashport.sandbox_customs.documents import (
    Addressee,
    DocumentKind,
    InventoryFacts,
    Line,
    OrderFacts,
    PaymentFacts,
    Person,
    WaybillFacts,
)
from flashport.sandbox_customs.match import Matched, Rejected, Verdict, Waiting, three_document_match

BUYER = Person("张三", "11010519491231002X")
CONSIGNEE = Addressee("张三", "13800138000", "上海市浦东新区世纪大道100号2201室")
LIMITS = Limits(single_transaction_fen=500_000, annual_fen=2_600_000)
LINES = (
    Line(gnum=1, item_no="A2-PLAT-1-900", qty=Decimal(2), price=22900, total_price=45800),
    Line(gnum=2, item_no="JP-MASK-30", qty=Decimal(1), price=8900, total_price=8900),
)
ORDER = OrderFacts(
    order_no="FP20260618000123", ebp_code="3101960ZZZ",
    app_time=datetime(2026, 6, 18, 10, 3, 4, tzinfo=CHINA_STANDARD_TIME),
    goods_value=54700, freight=0, discount=1000, tax_total=4887, actural_paid=58587,
    buyer=BUYER, consignee=CONSIGNEE, lines=LINES,
)  # fmt: skip
PAYMENT = PaymentFacts(ORDER.order_no, ORDER.ebp_code, BUYER, amount_paid=58587)
WAYBILL = WaybillFacts(ORDER.order_no, "3120980105", "773012345678901", CONSIGNEE)
# "2.0" on the list against 2 on the order: quantities compare as numbers, not text.
INVENTORY_LINES = (dataclasses.replace(LINES[0], qty=Decimal("2.0")), LINES[1])
INVENTORY = InventoryFacts(
    ORDER.order_no, ORDER.ebp_code, "3120980105", "773012345678901", BUYER, lines=INVENTORY_LINES
)


def match(
    *,
    order: OrderFacts | None = ORDER,
    payment: PaymentFacts | None = PAYMENT,
    waybill: WaybillFacts | None = WAYBILL,
    inventory: InventoryFacts = INVENTORY,
    year_total: int = 0,
    check_tax: bool = False,  # the tax check has its own tests (test_sandbox_customs_tax.py)
) -> Verdict:
    return three_document_match(
        inventory,
        order,
        payment,
        waybill,
        limits=LIMITS,
        buyer_year_total_fen=year_total,
        check_tax=check_tax,
    )


def rejection(verdict: Verdict) -> Rejected:
    assert isinstance(verdict, Rejected), verdict
    assert verdict.return_info.startswith(f"[{verdict.reason_code}] ")
    return verdict


def one_item_order(price: int) -> OrderFacts:
    line = Line(gnum=1, item_no="WATCH-1", qty=Decimal(1), price=price, total_price=price)
    return dataclasses.replace(
        ORDER, goods_value=price, discount=0, tax_total=0, actural_paid=price, lines=(line,)
    )


def test_documents_that_agree_are_matched() -> None:
    assert match() == Matched()


def test_an_inventory_list_waits_while_documents_are_missing() -> None:
    assert match(payment=None, waybill=None) == Waiting((DocumentKind.PAYMENT, DocumentKind.WAYBILL))
    assert match(order=None) == Waiting((DocumentKind.ORDER,))


def test_an_order_whose_paid_amount_does_not_add_up_is_inconsistent() -> None:
    verdict = rejection(match(order=dataclasses.replace(ORDER, actural_paid=58687)))
    assert verdict.reason_code == reasons.ORDER_INCONSISTENT
    assert "acturalPaid 586.87" in verdict.return_info and "585.87" in verdict.return_info


def test_an_order_whose_goods_value_is_not_its_lines_is_inconsistent_though_it_adds_up() -> None:
    # 100 yuan off the goods, the paid amount and the payment: everything but the lines agrees.
    lowered = dataclasses.replace(ORDER, goods_value=44700, actural_paid=48587)
    verdict = rejection(match(order=lowered, payment=dataclasses.replace(PAYMENT, amount_paid=48587)))
    assert verdict.reason_code == reasons.ORDER_INCONSISTENT
    assert "goodsValue 447.00 is not the lines' totalPrice 547.00" in verdict.return_info


def test_an_order_line_whose_total_is_not_price_times_quantity_is_inconsistent() -> None:
    lines = (dataclasses.replace(LINES[0], total_price=35800), LINES[1])
    order = dataclasses.replace(ORDER, lines=lines, goods_value=44700, actural_paid=48587)
    inventory = dataclasses.replace(
        INVENTORY, lines=(dataclasses.replace(INVENTORY_LINES[0], total_price=35800), LINES[1])
    )
    verdict = rejection(
        match(order=order, payment=dataclasses.replace(PAYMENT, amount_paid=48587), inventory=inventory)
    )
    assert verdict.reason_code == reasons.ORDER_INCONSISTENT
    assert "line 1: totalPrice 358.00 is not price 229.00 x qty 2" in verdict.return_info


def test_an_inventory_list_declaring_other_freight_than_the_order_is_a_freight_mismatch() -> None:
    order = dataclasses.replace(ORDER, freight=1000, actural_paid=59587)
    verdict = rejection(match(order=order, payment=dataclasses.replace(PAYMENT, amount_paid=59587)))
    assert verdict.reason_code == reasons.FREIGHT_MISMATCH
    assert "freight 0.00 on the inventory list is not freight 10.00 on the order" in verdict.return_info


def test_a_payment_of_another_amount_is_an_amount_mismatch() -> None:
    verdict = rejection(match(payment=dataclasses.replace(PAYMENT, amount_paid=58500)))
    assert verdict.reason_code == reasons.AMOUNT_MISMATCH
    assert "amountPaid 585.00" in verdict.return_info


def test_a_payer_who_is_not_the_buyer_is_a_payer_mismatch_named_only_masked() -> None:
    other = Person("李娜", "110105199003070025")
    verdict = rejection(match(payment=dataclasses.replace(PAYMENT, payer=other)))
    assert verdict.reason_code == reasons.PAYER_MISMATCH
    assert verdict.return_info.startswith(
        "[payer_mismatch] payer 李* on the payment voucher is not the buyer on the order"
    )
    assert "李娜" not in verdict.return_info
    assert other.id_number not in verdict.return_info and BUYER.id_number not in verdict.return_info


def test_a_payer_with_the_buyers_name_but_another_id_number_is_a_payer_mismatch() -> None:
    payer = Person(BUYER.name, "110105199003070025")
    verdict = rejection(match(payment=dataclasses.replace(PAYMENT, payer=payer)))
    assert verdict.reason_code == reasons.PAYER_MISMATCH
    assert "(ID number differ)" in verdict.return_info


def test_an_inventory_list_for_another_buyer_is_a_buyer_mismatch() -> None:
    buyer = Person(BUYER.name, "110105199003070025")
    verdict = rejection(match(inventory=dataclasses.replace(INVENTORY, buyer=buyer)))
    assert verdict.reason_code == reasons.BUYER_MISMATCH
    assert buyer.id_number not in verdict.return_info


def test_a_waybill_to_another_telephone_is_a_consignee_mismatch() -> None:
    consignee = dataclasses.replace(CONSIGNEE, telephone="13900139000")
    verdict = rejection(match(waybill=dataclasses.replace(WAYBILL, consignee=consignee)))
    assert verdict.reason_code == reasons.CONSIGNEE_MISMATCH
    assert "telephone differ" in verdict.return_info


def test_an_inventory_list_naming_another_waybill_is_a_waybill_mismatch() -> None:
    verdict = rejection(match(waybill=dataclasses.replace(WAYBILL, logistics_no="773099999999999")))
    assert verdict.reason_code == reasons.WAYBILL_MISMATCH
    assert "773099999999999" in verdict.return_info


@pytest.mark.parametrize(
    ("changed_lines", "said"),
    [
        (LINES[:1], "has 1 lines, the order 2"),
        ((LINES[0], dataclasses.replace(LINES[1], item_no="JP-MASK-60")), "line 2: itemNo differ"),
        ((LINES[0], dataclasses.replace(LINES[1], qty=Decimal(2), total_price=17800)), "qty and totalPrice"),
        ((dataclasses.replace(LINES[0], price=22800, total_price=45600), LINES[1]), "line 1: price and"),
        ((LINES[0], dataclasses.replace(LINES[1], gnum=3)), "line 3: not on the order"),
    ],
    ids=["count", "itemNo", "qty", "price", "gnum"],
)
def test_inventory_lines_that_are_not_the_orders_are_a_lines_mismatch(changed_lines, said) -> None:
    verdict = rejection(match(inventory=dataclasses.replace(INVENTORY, lines=changed_lines)))
    assert verdict.reason_code == reasons.LINES_MISMATCH
    assert said in verdict.return_info


def test_an_item_number_given_on_one_side_only_is_not_compared() -> None:
    unnumbered = tuple(dataclasses.replace(line, item_no=None) for line in INVENTORY.lines)
    assert match(inventory=dataclasses.replace(INVENTORY, lines=unnumbered)) == Matched()


def test_goods_above_the_single_transaction_limit_are_rejected() -> None:
    lines = (
        Line(gnum=1, item_no="BAG-1", qty=Decimal(1), price=300_000, total_price=300_000),
        Line(gnum=2, item_no="BAG-2", qty=Decimal(1), price=200_001, total_price=200_001),
    )
    order = dataclasses.replace(
        ORDER, goods_value=500_001, discount=0, tax_total=0, actural_paid=500_001, lines=lines
    )
    verdict = rejection(
        match(
            order=order,
            payment=dataclasses.replace(PAYMENT, amount_paid=500_001),
            inventory=dataclasses.replace(INVENTORY, lines=lines),
        )
    )
    assert verdict.reason_code == reasons.SINGLE_LIMIT_EXCEEDED
    assert "5000.01" in verdict.return_info and "5000.00" in verdict.return_info


def test_a_single_indivisible_item_may_exceed_the_single_transaction_limit() -> None:
    order = one_item_order(800_000)
    verdict = match(
        order=order,
        payment=dataclasses.replace(PAYMENT, amount_paid=800_000),
        inventory=dataclasses.replace(INVENTORY, lines=order.lines),
    )
    assert verdict == Matched()


# The order's dutiable value is its goodsValue 547.00 (no freight, no insurance), not acturalPaid.
@pytest.mark.parametrize(("already", "allowed"), [(2_600_000 - 54700, True), (2_600_000 - 54700 + 1, False)])
def test_the_annual_limit_allows_exactly_the_limit_and_not_one_fen_more(already: int, allowed: bool) -> None:
    verdict = match(year_total=already)
    if allowed:
        assert verdict == Matched()
    else:
        assert rejection(verdict).reason_code == reasons.ANNUAL_LIMIT_EXCEEDED
        assert "2026" in verdict.return_info and "26000.01" in verdict.return_info


def test_the_first_failing_check_names_the_rejection_and_the_others_follow() -> None:
    verdict = rejection(
        match(
            payment=dataclasses.replace(PAYMENT, amount_paid=1, payer=Person("李娜", "110105199003070025")),
            year_total=2_600_000,
        )
    )
    assert verdict.reason_code == reasons.AMOUNT_MISMATCH
    assert "; also [payer_mismatch] payer 李*" in verdict.return_info
    assert "; also [annual_limit_exceeded]" in verdict.return_info


def test_reason_codes_are_distinct_and_in_check_order() -> None:
    assert len(set(reasons.REASON_CODES)) == len(reasons.REASON_CODES) == 12
    assert reasons.REASON_CODES[0] == reasons.ORDER_INCONSISTENT
    assert reasons.REASON_CODES[-1] == reasons.TAX_MISMATCH
