"""The audit's tampered message sets (issue 20), table-driven: a valid set of the four documents made by
the real codec (CEB311, CEB411, CEB511, signed CEB621) is released as it is; changed in one field of its
XML at a time, the way a faulty or dishonest sender would, it is never released, and customs says why.

Only what the other simulator tests leave out is here. Already covered elsewhere: missing 1210/9610
fields, ID type 2 and bad ID numbers on the order and payment, trade mode, ``ieFlag``, country,
``unit1``, HS code and ``appStatus`` of the list and the order (``test_sandbox_customs_strict``);
waybill, payment transaction id and ``copNo`` reuse, another platform's payment, ``taxTotal`` 0 or off
by a fen (the same); acturalPaid against amountPaid and the goods, payer, buyer, consignee, waybill,
lines and limits (``test_sandbox_customs`` and ``tests/unit/test_sandbox_customs_match``).
"""

# ruff: noqa: F811 - the simulator's fixtures are imported by name from its main test module

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from flashport.ceb import SoftwareKeySigner
from flashport.sandbox_customs import reasons, refusals
from tests.integration.test_sandbox_customs import (
    CARRIER_DXP,
    PAYMENT_DXP,
    PLATFORM_DXP,
    Documents,
    bonded_order,
    customs,  # noqa: F401 - fixture
    customs_sim,  # noqa: F401 - fixture
    declaration,
    inbox,
    send,
    signer,  # noqa: F401 - fixture
)
from tests.integration.test_sandbox_customs_strict import replaced, resigned

ORDER_NO = "FP20260618000901"
Messages = dict[str, bytes]
Tamper = Callable[[Messages, SoftwareKeySigner], Messages]
HELD = "held"  # not a refusal: the set never matches, so the list waits and nothing is released
SCHEMA = "schema"  # refused by the official XSD before customs' own rules: a processing error (-1)


def edit(kind: str, old: str, new: str) -> Tamper:
    """One field of one document changed; a CEB621 is signed again, as its sender would."""

    def tamper(messages: Messages, signer: SoftwareKeySigner) -> Messages:
        change = replaced(old, new)
        body = messages[kind]
        changed = resigned(body, change, signer) if kind == "inventory" else change(body)
        return {**messages, kind: changed}

    return tamper


def edits(*tampers: Tamper) -> Tamper:
    """Several fields changed together so that every other check still agrees: only one rule breaks."""

    def tamper(messages: Messages, signer: SoftwareKeySigner) -> Messages:
        for one in tampers:
            messages = one(messages, signer)
        return messages

    return tamper


# The order pays 586.78: goods 547.00 (2 x 229.00 + 89.00), freight 0, tax 49.78, non-cash discount 10.00.
CASES: list[tuple[str, Tamper, str]] = [
    (
        # Goods declared 100 yuan lower on the order and paid so, lines and tax left as they are: the
        # order's own arithmetic no longer holds (and its value would slip under a limit).
        "order-goodsValue-not-its-lines",
        edits(
            edit("order", "<ceb:goodsValue>547.00<", "<ceb:goodsValue>447.00<"),
            edit("order", "<ceb:acturalPaid>586.78<", "<ceb:acturalPaid>486.78<"),
            edit("payment", "<ceb:amountPaid>586.78<", "<ceb:amountPaid>486.78<"),
        ),
        reasons.ORDER_INCONSISTENT,
    ),
    (
        # A line's total that is not price x quantity, the same on the order and the list.
        "line-totalPrice-not-price-times-qty",
        edits(
            edit("order", "<ceb:totalPrice>458.00<", "<ceb:totalPrice>358.00<"),
            edit("order", "<ceb:goodsValue>547.00<", "<ceb:goodsValue>447.00<"),
            edit("order", "<ceb:acturalPaid>586.78<", "<ceb:acturalPaid>486.78<"),
            edit("payment", "<ceb:amountPaid>586.78<", "<ceb:amountPaid>486.78<"),
            edit("inventory", "<ceb:totalPrice>458.00<", "<ceb:totalPrice>358.00<"),
        ),
        reasons.ORDER_INCONSISTENT,
    ),
    (
        # Freight on the order (what the limits count) that the list (what customs taxes) does not
        # declare: the order adds up and the tax on the list's base is the order's taxTotal.
        "order-freight-not-the-lists",
        edits(
            edit("order", "<ceb:freight>0.00<", "<ceb:freight>10.00<"),
            edit("order", "<ceb:acturalPaid>586.78<", "<ceb:acturalPaid>596.78<"),
            edit("payment", "<ceb:amountPaid>586.78<", "<ceb:amountPaid>596.78<"),
        ),
        reasons.FREIGHT_MISMATCH,
    ),
    (
        "payment-appStatus-1",
        edit("payment", "<ceb:appStatus>2<", "<ceb:appStatus>1<"),
        refusals.NOT_DECLARED,
    ),
    (
        "waybill-appStatus-1",
        edit("waybill", "<ceb:appStatus>2<", "<ceb:appStatus>1<"),
        refusals.NOT_DECLARED,
    ),
    (
        "inventory-buyer-id-check-digit",
        edit("inventory", "11010519491231002X", "110105194912310021"),
        refusals.ID_NUMBER_INVALID,
    ),
    (
        "order-buyerIdType-2",
        edit("order", "<ceb:buyerIdType>1<", "<ceb:buyerIdType>2<"),
        refusals.ID_TYPE_INVALID,
    ),
    ("order-unit-999", edit("order", "<ceb:unit>122<", "<ceb:unit>999<"), refusals.CODE_INVALID),
    ("inventory-unit-999", edit("inventory", "<ceb:unit>122<", "<ceb:unit>999<"), refusals.CODE_INVALID),
    # The XSD fixes the currency at 142 on the order, payment and list heads.
    ("payment-currency-502", edit("payment", "<ceb:currency>142<", "<ceb:currency>502<"), SCHEMA),
    # Another order number on the payment, the waybill or the list: it is no document of this order, so
    # the match waits for the order's own (customs' real answer: nothing, until the declarant sends it).
    ("payment-of-another-order-number", edit("payment", ORDER_NO, "FP20260618000999"), HELD),
    ("waybill-of-another-order-number", edit("waybill", ORDER_NO, "FP20260618000999"), HELD),
    ("inventory-of-another-order-number", edit("inventory", ORDER_NO, "FP20260618000999"), HELD),
]


async def _refusals(customs: httpx.AsyncClient) -> list[str]:
    """Every refusal (100) and processing error (negative) sent to the three declarants."""
    found = []
    for dxp_id in (PLATFORM_DXP, PAYMENT_DXP, CARRIER_DXP):
        found += [r.return_info for r in await inbox(customs, dxp_id) if r.return_status in (100, -1)]
    return found


async def test_the_untampered_set_is_released(customs, signer) -> None:
    await send(customs, *Documents.of(bonded_order(ORDER_NO)).messages(signer).values())
    assert (await declaration(customs, ORDER_NO))["state"] == "released"
    assert await _refusals(customs) == []


@pytest.mark.parametrize(("tamper", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_set_tampered_in_one_field_is_not_released_and_customs_says_why(
    customs, signer, tamper: Tamper, code: str
) -> None:
    messages = tamper(Documents.of(bonded_order(ORDER_NO)).messages(signer), signer)
    await send(customs, *messages.values())
    state = (await declaration(customs, ORDER_NO))["state"]
    assert state != "released"
    if code == HELD:
        assert state in ("waiting", None) and await _refusals(customs) == []  # None: no list of it
        return
    said = await _refusals(customs)
    if code == SCHEMA:
        assert any("currency" in info and not info.startswith("[") for info in said), said
        return
    assert any(info.startswith(f"[{code}] ") for info in said), said
