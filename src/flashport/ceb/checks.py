"""Consistency checks the schema cannot express. Each returns a list of problems (empty when sound),
written for the person who has to fix the declaration; the builders refuse a declaration with any."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flashport.ceb.codes import CHINA, PACKAGES_PER_WAYBILL, TradeMode
from flashport.ceb.formatting import format_yuan
from flashport.ceb.model import InventoryDeclaration, OrderDeclaration

MAX_LINES = 99  # XSD: OrderList and InventoryList maxOccurs 99


class _PricedLine(Protocol):
    @property
    def gnum(self) -> int: ...
    @property
    def qty(self) -> int: ...
    @property
    def price(self) -> int: ...
    @property
    def total_price(self) -> int: ...


def check_line_numbers(lines: Sequence[_PricedLine]) -> list[str]:
    """1 to 99 lines, numbered 1, 2, 3... in order (the inventory list's gnum maps 1:1 to the order's)."""
    if not 1 <= len(lines) <= MAX_LINES:
        return [f"a declaration has 1 to {MAX_LINES} lines, this one has {len(lines)}"]
    numbers = [line.gnum for line in lines]
    if numbers != list(range(1, len(lines) + 1)):
        return [f"line numbers (gnum) must run 1..{len(lines)} in order, got {numbers}"]
    return []


def check_line_totals(lines: Sequence[_PricedLine]) -> list[str]:
    """totalPrice = price x qty on every line, with no negative amount or quantity."""
    problems = []
    for line in lines:
        if line.qty <= 0 or line.price < 0:
            problems.append(f"line {line.gnum}: qty must be positive and price not negative")
        elif line.total_price != line.price * line.qty:
            problems.append(
                f"line {line.gnum}: totalPrice {format_yuan(line.total_price)} is not "
                f"price {format_yuan(line.price)} x qty {line.qty}"
            )
    return problems


def check_order_amounts(order: OrderDeclaration) -> list[str]:
    """Line totals, goodsValue = sum of lines, acturalPaid = goodsValue + freight + taxTotal - discount."""
    problems = check_line_totals(order.lines)
    amounts = {
        "goodsValue": order.goods_value,
        "freight": order.freight,
        "discount": order.discount,
        "taxTotal": order.tax_total,
        "acturalPaid": order.actural_paid,
    }
    problems += [f"{name} must not be negative" for name, fen in amounts.items() if fen < 0]
    lines_value = sum(line.total_price for line in order.lines)
    if order.goods_value != lines_value:
        problems.append(
            f"goodsValue {format_yuan(order.goods_value)} is not the sum of the lines "
            f"{format_yuan(lines_value)}"
        )
    expected = order.goods_value + order.freight + order.tax_total - order.discount
    if order.actural_paid != expected:
        problems.append(
            f"acturalPaid {format_yuan(order.actural_paid)} is not goodsValue + freight + taxTotal - discount"
            f" = {format_yuan(expected)}"
        )
    return problems


def check_order(order: OrderDeclaration) -> list[str]:
    return check_line_numbers(order.lines) + check_order_amounts(order)


def check_inventory(inventory: InventoryDeclaration) -> list[str]:
    """Lines, totals, HS codes, weights, and the fields only one trade mode has."""
    problems = check_line_numbers(inventory.lines) + check_line_totals(inventory.lines)
    for line in inventory.lines:
        if len(line.gcode) != 10 or not line.gcode.isdigit():
            problems.append(f"line {line.gnum}: gcode must be a 10-digit HS code, got {line.gcode!r}")
    if inventory.trade_mode is TradeMode.BONDED_IMPORT:
        if inventory.country != CHINA:
            problems.append(f"bonded import (1210) declares country {CHINA}, got {inventory.country}")
        missing = [line.gnum for line in inventory.lines if not line.item_record_no]
        if missing:
            problems.append(f"bonded import (1210) needs itemRecordNo on lines {missing}")
    if inventory.pack_no != PACKAGES_PER_WAYBILL:
        problems.append(f"packNo is always {PACKAGES_PER_WAYBILL} (one parcel per inventory list)")
    if inventory.net_weight_kg > inventory.gross_weight_kg:
        problems.append("netWeight exceeds grossWeight")
    if inventory.freight < 0 or inventory.insured_fee < 0:
        problems.append("freight and insuredFee must not be negative")
    return problems
