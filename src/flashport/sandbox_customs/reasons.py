"""Why a three-document match fails: one machine-readable code per check, in the order they are
checked. A rejection's ``returnInfo`` starts with the first failing code in square brackets.

Explanations name people only masked: a receipt travels through systems that must not hold ID numbers.
"""

from __future__ import annotations

ORDER_INCONSISTENT = "order_inconsistent"  # acturalPaid != goodsValue + freight + taxTotal - discount
AMOUNT_MISMATCH = "amount_mismatch"  # the order's acturalPaid != the payment's amountPaid
PAYER_MISMATCH = "payer_mismatch"  # the payer (name + ID number) is not the order's buyer
BUYER_MISMATCH = "buyer_mismatch"  # the inventory list's buyer is not the order's buyer
CONSIGNEE_MISMATCH = "consignee_mismatch"  # order and waybill disagree on name, telephone or address
WAYBILL_MISMATCH = "waybill_mismatch"  # the inventory list names another waybill or logistics company
LINES_MISMATCH = "lines_mismatch"  # inventory lines != order lines (by gnum: itemNo, qty, prices)
FREIGHT_MISMATCH = "freight_mismatch"  # the inventory list's freight != the order's
SINGLE_LIMIT_EXCEEDED = "single_limit_exceeded"  # goodsValue above the single-transaction limit
ANNUAL_LIMIT_EXCEEDED = "annual_limit_exceeded"  # the buyer's year total would pass the annual limit
TAX_NOT_DECLARED = "tax_not_declared"  # taxTotal 0 while customs assesses tax on the lines
TAX_MISMATCH = "tax_mismatch"  # taxTotal is not customs' own assessment of the inventory lines

REASON_CODES = (
    ORDER_INCONSISTENT,
    AMOUNT_MISMATCH,
    PAYER_MISMATCH,
    BUYER_MISMATCH,
    CONSIGNEE_MISMATCH,
    WAYBILL_MISMATCH,
    LINES_MISMATCH,
    FREIGHT_MISMATCH,
    SINGLE_LIMIT_EXCEEDED,
    ANNUAL_LIMIT_EXCEEDED,
    TAX_NOT_DECLARED,
    TAX_MISMATCH,
)


def mask_name(name: str) -> str:
    """``李娜`` -> ``李*``: the family name only."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_id_number(id_number: str) -> str:
    """``11010519491231002X`` -> ``1101**********002X``, as the platform shows it (region, no birth date).

    The platform's own helper lives with its identity vault, which the simulator must not import.
    """
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
