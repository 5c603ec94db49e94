"""Customs' own tax assessment in the simulator (the tariff by HS code, the cosmetics threshold,
general trade), the taxTotal checks built on it, the ID number rules and field verification."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from flashport.domain.withholding import BillStatus, Reconciliation, TaxBillRecord, by_order, ledger
from flashport.sandbox_customs import reasons
from flashport.sandbox_customs.documents import DocumentKind, Line
from flashport.sandbox_customs.match import Matched, Rejected, three_document_match
from flashport.sandbox_customs.tariff import assess
from flashport.sandbox_customs.verification import check_digit, id_number_problem, verify
from tests.unit.test_sandbox_customs_match import INVENTORY, LIMITS, ORDER, PAYMENT, WAYBILL


def _line(gcode: str, price: int, qty: int = 1, qty1: str = "0.05", unit1: str = "035") -> Line:
    return Line(1, None, Decimal(qty), price, price * qty, gcode=gcode, qty1=Decimal(qty1), unit1=unit1)


def test_general_goods_pay_vat_at_70_percent_9_1_percent_of_goods_and_freight() -> None:
    taxed = assess([_line("1901101010", 20000)], freight=1000, insured_fee=0, general_trade=False)
    assert (taxed.customs_tax_fen, taxed.vat_fen, taxed.consumption_tax_fen) == (0, 1911, 0)


def test_high_end_cosmetics_at_or_above_10_yuan_a_gram_pay_consumption_tax_the_worked_case() -> None:
    # ¥425 for 30 g (¥14.17/g): 425 / 0.85 x 15% x 70% = 52.50, (425 + 75) x 13% x 70% = 45.50.
    taxed = assess([_line("3304990099", 42500, qty1="0.03")], freight=0, insured_fee=0, general_trade=False)
    assert (taxed.consumption_tax_fen, taxed.vat_fen, taxed.total_fen) == (5250, 4550, 9800)


def test_cosmetics_below_the_threshold_pay_vat_only() -> None:
    # ¥429 for 50 ml: ¥8.58/ml, below ¥10.
    taxed = assess(
        [_line("3304990099", 42900, unit1="096", qty1="50")], freight=0, insured_fee=0, general_trade=False
    )
    assert (taxed.consumption_tax_fen, taxed.vat_fen) == (0, 3904)


def test_a_mask_sheet_counted_in_pieces_is_judged_at_15_yuan_a_piece() -> None:
    cheap = assess(
        [_line("3304990099", 1499, unit1="007", qty1="1")], freight=0, insured_fee=0, general_trade=False
    )
    dear = assess(
        [_line("3304990099", 1500, unit1="007", qty1="1")], freight=0, insured_fee=0, general_trade=False
    )
    assert cheap.consumption_tax_fen == 0 and dear.consumption_tax_fen > 0


def test_general_trade_pays_tariff_vat_and_consumption_tax_in_full() -> None:
    # A ¥12,000 watch: tariff 8% = 960; composite (12000 + 960) / 0.8 = 16200; CT 20% = 3240; VAT 13% = 2106.
    taxed = assess(
        [_line("9102120000", 1_200_000, unit1="007", qty1="1")], freight=0, insured_fee=0, general_trade=True
    )
    assert (taxed.customs_tax_fen, taxed.consumption_tax_fen, taxed.vat_fen) == (96000, 324000, 210600)


def test_freight_is_shared_by_value_and_every_fen_is_kept() -> None:
    lines = [dataclasses.replace(_line("1901101010", 100), gnum=n) for n in (1, 2, 3)]
    taxed = assess(lines, freight=100, insured_fee=0, general_trade=False)
    assert sum(line.base_fen for line in taxed.lines) == 400


def _with_tax(tax_total: int) -> object:
    order = dataclasses.replace(
        ORDER, tax_total=tax_total, actural_paid=ORDER.goods_value - ORDER.discount + tax_total
    )
    payment = dataclasses.replace(PAYMENT, amount_paid=order.actural_paid)
    return three_document_match(INVENTORY, order, payment, WAYBILL, limits=LIMITS, buyer_year_total_fen=0)


def test_the_order_tax_must_be_customs_assessment_to_the_fen() -> None:
    assert _with_tax(4978) == Matched()  # 458.00 and 89.00 at 9.1%: 41.68 + 8.10
    zero, short = _with_tax(0), _with_tax(4977)
    assert isinstance(zero, Rejected) and zero.reason_code == reasons.TAX_NOT_DECLARED
    assert isinstance(short, Rejected) and short.reason_code == reasons.TAX_MISMATCH


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("11010519491231002X", None),
        ("110105194912310021", "check digit"),
        ("00000019491231002X", "region code"),
        ("110105194902300021", "birth date"),
        ("1101051949123100", "17 digits"),
    ],
)
def test_resident_id_numbers_follow_gb_11643(number: str, problem: str | None) -> None:
    found = id_number_problem(number)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_the_check_character_is_iso_7064_mod_11_2() -> None:
    assert check_digit("11010519491231002") == "X"


def test_a_payment_is_verified_without_the_inventorys_codes() -> None:
    head = {"appStatus": "2", "payCode": "P", "payTransactionId": "T", "orderNo": "O", "ebpCode": "E",
            "payerName": "张三", "payerIdNumber": "11010519491231002X", "payerIdType": "1",
            "currency": "142"}  # fmt: skip
    assert verify(DocumentKind.PAYMENT, head, []) == []


def _bill(
    tax_no: str, billed: int, status: BillStatus = BillStatus.ISSUED, order_no: str | None = "FP1"
) -> TaxBillRecord:
    return TaxBillRecord(
        tax_no, "2249I1", status, billed, order_no, 100 if order_no else None, ORDER.app_time
    )


def test_an_orders_bills_are_reconciled_together_and_a_cancelled_bill_counts_nothing() -> None:
    (order,) = by_order([_bill("A", 60), _bill("B", 40), _bill("C", 999, BillStatus.CANCELLED)])
    assert (order.billed_fen, order.reconciliation) == (100, Reconciliation.MATCHED)
    month = ledger("2026-06", [_bill("A", 60), _bill("X", 5, order_no=None)])
    assert month.billed_fen == 65 and [o.reconciliation for o in month.mismatches] == [
        Reconciliation.OVER_COLLECTED, Reconciliation.UNLINKED,
    ]  # fmt: skip
