"""The checks of the three-document match, in the order customs runs them.

Each check looks at a complete :class:`Case` and returns ``None`` when it holds, or a sentence saying
what disagrees (people named masked only).
"""

# Receipts are worded like customs' own, with Chinese full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flashport.ceb.formatting import format_yuan
from flashport.domain.limits import allowed_regime, customs_year, within_annual_limit
from flashport.domain.tax import dutiable_value_fen
from flashport.sandbox_customs import reasons
from flashport.sandbox_customs.documents import (
    InventoryFacts,
    Line,
    OrderFacts,
    PaymentFacts,
    Person,
    WaybillFacts,
)
from flashport.sandbox_customs.reasons import mask_name
from flashport.sandbox_customs.tariff import Assessment, assess


@dataclass(frozen=True)
class Limits:
    single_transaction_fen: int
    annual_fen: int


@dataclass(frozen=True)
class Case:
    """The four documents of one order, the limits, and what the buyer already had released in the
    calendar year (China time) of the payment (:func:`counting_year`)."""

    inventory: InventoryFacts
    order: OrderFacts
    payment: PaymentFacts
    waybill: WaybillFacts
    limits: Limits
    buyer_year_total_fen: int
    check_tax: bool = True


def china_year(moment: datetime) -> int:
    """The calendar year in China at ``moment``."""
    return customs_year(moment)


def counting_year(order: OrderFacts, payment: PaymentFacts | None) -> int:
    """The year an order counts toward: the year of its payment (``payTime``) in China, as on the
    platform; the order's ``appTime`` only while no payment is on file."""
    moment = payment.pay_time if payment is not None and payment.pay_time is not None else order.app_time
    return customs_year(moment)


def dutiable_value(case: Case) -> int:
    """The order's dutiable value as the messages state it: goodsValue + freight on the order plus the
    inventory list's insuredFee; no tax, the non-cash discount not subtracted. The same function the
    platform limits its orders with."""
    return dutiable_value_fen(case.order.goods_value, case.order.freight, case.inventory.insured_fee)


def _order_inconsistent(case: Case) -> str | None:
    """The order's own arithmetic: each line's totalPrice = price x qty (to the fen, half up),
    goodsValue = the lines' totalPrice, acturalPaid = goodsValue + freight + taxTotal - discount. The
    limits and the match read goodsValue, so a value that is not its lines' would slip past them."""
    o = case.order
    problems = [
        f"line {line.gnum}: totalPrice {format_yuan(line.total_price)} is not price"
        f" {format_yuan(line.price)} x qty {line.qty}"
        for line in o.lines
        if line.total_price != int((Decimal(line.price) * Decimal(line.qty)).to_integral_value(ROUND_HALF_UP))
    ]
    lines_value = sum(line.total_price for line in o.lines)
    if o.goods_value != lines_value:
        problems.append(
            f"goodsValue {format_yuan(o.goods_value)} is not the lines' totalPrice {format_yuan(lines_value)}"
        )
    expected = o.goods_value + o.freight + o.tax_total - o.discount
    if o.actural_paid != expected:
        problems.append(
            f"acturalPaid {format_yuan(o.actural_paid)} on the order is not goodsValue + freight + taxTotal"
            f" - discount = {format_yuan(expected)}"
        )
    return "; ".join(problems) or None


def _amount_mismatch(case: Case) -> str | None:
    paid, declared = case.payment.amount_paid, case.order.actural_paid
    if paid == declared:
        return None
    return f"amountPaid {format_yuan(paid)} on the payment voucher is not acturalPaid {format_yuan(declared)}"


def _differences(pairs: Sequence[tuple[str, object, object]]) -> str | None:
    names = [name for name, ours, theirs in pairs if ours != theirs]
    return " and ".join(names) + " differ" if names else None


def _person_differences(person: Person, buyer: Person) -> str | None:
    return _differences([("name", person.name, buyer.name), ("ID number", person.id_number, buyer.id_number)])


def _payer_mismatch(case: Case) -> str | None:
    payer = case.payment.payer
    differ = _person_differences(payer, case.order.buyer)
    if differ is None:
        return None
    return f"payer {mask_name(payer.name)} on the payment voucher is not the buyer on the order ({differ})"


def _buyer_mismatch(case: Case) -> str | None:
    buyer = case.inventory.buyer
    differ = _person_differences(buyer, case.order.buyer)
    if differ is None:
        return None
    return f"buyer {mask_name(buyer.name)} on the inventory list is not the buyer on the order ({differ})"


def _consignee_mismatch(case: Case) -> str | None:
    order, waybill = case.order.consignee, case.waybill.consignee
    differ = _differences(
        [
            ("name", order.name, waybill.name),
            ("telephone", order.telephone, waybill.telephone),
            ("address", order.address, waybill.address),
        ]
    )
    return None if differ is None else f"the consignee on the waybill is not the one on the order ({differ})"


def _waybill_mismatch(case: Case) -> str | None:
    listed, declared = case.inventory, case.waybill
    if (listed.logistics_code, listed.logistics_no) == (declared.logistics_code, declared.logistics_no):
        return None
    return (
        f"the inventory list names waybill {listed.logistics_no} of {listed.logistics_code}; the waybill"
        f" declared for the order is {declared.logistics_no} of {declared.logistics_code}"
    )


def _line_differences(listed: Line, ordered: Line) -> str | None:
    pairs: list[tuple[str, object, object]] = [
        ("qty", listed.qty, ordered.qty),
        ("price", listed.price, ordered.price),
        ("totalPrice", listed.total_price, ordered.total_price),
    ]
    if listed.item_no and ordered.item_no:  # compared only when both declare the SKU
        pairs.insert(0, ("itemNo", listed.item_no, ordered.item_no))
    return _differences(pairs)


def line_differences(listed: Sequence[Line], ordered: Sequence[Line]) -> list[str]:
    """How the inventory list's lines differ from the order's, matched by gnum."""
    if len(listed) != len(ordered):
        return [f"the inventory list has {len(listed)} lines, the order {len(ordered)}"]
    by_gnum = {line.gnum: line for line in ordered}
    problems = []
    for line in listed:
        theirs = by_gnum.get(line.gnum)
        differ = "not on the order" if theirs is None else _line_differences(line, theirs)
        if differ is not None:
            problems.append(f"line {line.gnum}: {differ}")
    return problems


def _lines_mismatch(case: Case) -> str | None:
    problems = line_differences(case.inventory.lines, case.order.lines)
    return "the inventory lines are not the order's: " + "; ".join(problems) if problems else None


def _freight_mismatch(case: Case) -> str | None:
    """The freight is declared twice, on the order (the dutiable value the limits count) and on the
    inventory list (the base customs taxes): the two must be the same freight."""
    ordered, listed = case.order.freight, case.inventory.freight
    if ordered == listed:
        return None
    return (
        f"freight {format_yuan(listed)} on the inventory list is not freight {format_yuan(ordered)} on"
        " the order"
    )


def general_trade(inventory: InventoryFacts, single_limit_fen: int) -> bool:
    """One indivisible item (one line, quantity 1) whose dutiable value is above the single limit:
    it may come in, but pays tariff, VAT and consumption tax in full."""
    lines = inventory.lines
    goods = sum(line.total_price for line in lines)
    value = dutiable_value_fen(goods, inventory.freight, inventory.insured_fee)
    return len(lines) == 1 and lines[0].qty == 1 and value > single_limit_fen


def assessment(inventory: InventoryFacts, limits: Limits) -> Assessment:
    """Customs' own tax on the inventory list: what the tax bill states."""
    return assess(
        inventory.lines,
        freight=inventory.freight,
        insured_fee=inventory.insured_fee,
        general_trade=general_trade(inventory, limits.single_transaction_fen),
    )


def _tax_not_declared(case: Case) -> str | None:
    if not case.check_tax or case.order.tax_total != 0:
        return None
    due = assessment(case.inventory, case.limits).total_fen
    if due == 0:
        return None
    assessed = format_yuan(due)
    return f"应征税款{assessed}，订单taxTotal为0 / taxTotal is 0.00 but customs assesses {assessed}"


def _tax_mismatch(case: Case) -> str | None:
    if not case.check_tax or case.order.tax_total == 0:
        return None
    assessed = assessment(case.inventory, case.limits)
    if assessed.total_fen == case.order.tax_total:
        return None
    declared, due = format_yuan(case.order.tax_total), format_yuan(assessed.total_fen)
    parts = (
        f"customsTax {format_yuan(assessed.customs_tax_fen)} + valueAddedTax {format_yuan(assessed.vat_fen)}"
        f" + consumptionTax {format_yuan(assessed.consumption_tax_fen)}"
    )
    return (
        f"订单税款{declared}与海关计征税款{due}不符 / taxTotal {declared} is not the assessed {due} ({parts})"
    )


def _single_limit_exceeded(case: Case) -> str | None:
    value, limit = dutiable_value(case), case.limits.single_transaction_fen
    if allowed_regime(value, [line.qty for line in case.order.lines], limit) is not None:
        return None
    return (
        f"the dutiable value {format_yuan(value)} (goods, freight and insurance) of more than one item"
        f" is above the single-transaction limit {format_yuan(limit)}"
    )


def _annual_limit_exceeded(case: Case) -> str | None:
    value, limit = dutiable_value(case), case.limits.annual_fen
    if within_annual_limit(case.buyer_year_total_fen, value, limit):
        return None
    total = case.buyer_year_total_fen + value
    year = counting_year(case.order, case.payment)
    return (
        f"the buyer's released total for {year} would be {format_yuan(total)}, above the annual"
        f" limit {format_yuan(limit)}"
    )


CHECKS: Sequence[tuple[str, Callable[[Case], str | None]]] = (
    (reasons.ORDER_INCONSISTENT, _order_inconsistent),
    (reasons.AMOUNT_MISMATCH, _amount_mismatch),
    (reasons.PAYER_MISMATCH, _payer_mismatch),
    (reasons.BUYER_MISMATCH, _buyer_mismatch),
    (reasons.CONSIGNEE_MISMATCH, _consignee_mismatch),
    (reasons.WAYBILL_MISMATCH, _waybill_mismatch),
    (reasons.LINES_MISMATCH, _lines_mismatch),
    (reasons.FREIGHT_MISMATCH, _freight_mismatch),
    (reasons.SINGLE_LIMIT_EXCEEDED, _single_limit_exceeded),
    (reasons.ANNUAL_LIMIT_EXCEEDED, _annual_limit_exceeded),
    (reasons.TAX_NOT_DECLARED, _tax_not_declared),
    (reasons.TAX_MISMATCH, _tax_mismatch),
)
