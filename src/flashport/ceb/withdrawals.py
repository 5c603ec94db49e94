"""CEB623 (cancel an accepted inventory list, before release) and CEB625 (return released goods):
what the declarant of the inventory list sends when an order is called off. Both name the list by
customs' inventory number (``invtNo``) and repeat its parties and its buyer; a return also lists the
goods going back (``InvtRefundList``: gnum of the list's line, HS code, name, quantity, unit). Both
require ``ds:Signature`` (XSD), so a signer is required, as for the CEB621. Element order is the XSD's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flashport.ceb.envelope import Field, Opening, add_node, batch_message, entries_of
from flashport.ceb.errors import InconsistentDeclaration, SigningRequired
from flashport.ceb.formatting import format_quantity
from flashport.ceb.model import AppStatus, AppType, InventoryDeclaration, Sender

if TYPE_CHECKING:
    from flashport.ceb.signing import Signer

REASON_MAX = 1000  # XSD: reason maxLength
INVT_NO_MAX = 18


@dataclass(frozen=True)
class ReturnedLine:
    gnum: int  # the inventory list's line
    qty: int  # at most the list's quantity on that line


@dataclass(frozen=True)
class Withdrawal:
    """An inventory list called off: the list as declared, the number customs gave it, and why.
    ``returned`` lines make it a return (CEB625); without them it is a cancellation (CEB623)."""

    inventory: InventoryDeclaration
    invt_no: str
    reason: str
    cop_no: str | None = None
    returned: tuple[ReturnedLine, ...] = ()


def cancellation_message(
    withdrawals: Withdrawal | Sequence[Withdrawal],
    sender: Sender,
    *,
    signer: Signer | None,
    guid: str | None = None,
    head_guids: Sequence[str] | None = None,
    app_time: datetime | None = None,
) -> bytes:
    """The signed CEB623 withdrawing one accepted inventory list or up to 100 (appType 1, new)."""
    entries = _checked(withdrawals, signer, "CEB623")
    return batch_message(
        "CEB623",
        entries,
        lambda root, w, opening: add_node(root, "InvtCancel", _head(w, opening)),
        sender,
        Opening(AppType.NEW, AppStatus.DECLARED, app_time),
        guid=guid,
        head_guids=head_guids,
        signer=signer,
    )


def return_message(
    withdrawals: Withdrawal | Sequence[Withdrawal],
    sender: Sender,
    *,
    signer: Signer | None,
    guid: str | None = None,
    head_guids: Sequence[str] | None = None,
    app_time: datetime | None = None,
) -> bytes:
    """The signed CEB625 declaring the return of released goods, one list or up to 100."""
    entries = _checked(withdrawals, signer, "CEB625")
    problems = [p for w in entries for p in _return_problems(w)]
    if problems:
        raise InconsistentDeclaration(problems)
    return batch_message(
        "CEB625",
        entries,
        _add_return,
        sender,
        Opening(AppType.NEW, AppStatus.DECLARED, app_time),
        guid=guid,
        head_guids=head_guids,
        signer=signer,
    )


def _checked(
    withdrawals: Withdrawal | Sequence[Withdrawal], signer: Signer | None, kind: str
) -> list[Withdrawal]:
    if signer is None:
        raise SigningRequired(f"{kind} requires ds:Signature (XSD)")
    entries = entries_of(withdrawals, Withdrawal)
    problems = [
        f"order {w.inventory.order_no}: {p}"
        for w in entries
        for p in (["invtNo is required"] if not 1 <= len(w.invt_no) <= INVT_NO_MAX else [])
        + (["a reason is required (at most 1000 characters)"] if not 1 <= len(w.reason) <= REASON_MAX else [])
    ]
    if problems:
        raise InconsistentDeclaration(problems)
    return entries


def _return_problems(withdrawal: Withdrawal) -> list[str]:
    lines = {line.gnum: line for line in withdrawal.inventory.lines}
    if not withdrawal.returned:
        return [f"order {withdrawal.inventory.order_no}: a return lists at least one line"]
    return [
        f"order {withdrawal.inventory.order_no}: line {r.gnum} "
        + (
            "is not on the inventory list"
            if r.gnum not in lines
            else f"returns {r.qty} of {lines[r.gnum].qty}"
        )
        for r in withdrawal.returned
        if r.gnum not in lines or not 0 < r.qty <= lines[r.gnum].qty
    ]


def _head(withdrawal: Withdrawal, opening: list[Field]) -> list[Field]:
    """InvtCancel and InvtRefundHead carry the same fields in the same order."""
    inventory = withdrawal.inventory
    return [
        *opening,
        ("customsCode", inventory.customs_code),
        ("orderNo", inventory.order_no),
        ("ebpCode", inventory.platform.code),
        ("ebpName", inventory.platform.name),
        ("ebcCode", inventory.seller.code),
        ("ebcName", inventory.seller.name),
        ("logisticsNo", inventory.logistics_no),
        ("logisticsCode", inventory.logistics_company.code),
        ("logisticsName", inventory.logistics_company.name),
        ("copNo", withdrawal.cop_no),
        ("invtNo", withdrawal.invt_no),
        ("buyerIdType", inventory.buyer.id_type),
        ("buyerIdNumber", inventory.buyer.id_number),
        ("buyerName", inventory.buyer.name),
        ("buyerTelephone", inventory.buyer.telephone),
        ("agentCode", inventory.agent.code),
        ("agentName", inventory.agent.name),
        ("reason", withdrawal.reason),
    ]


def _add_return(root: Any, withdrawal: Withdrawal, opening: list[Field]) -> None:
    node = add_node(root, "InvtRefund")
    add_node(node, "InvtRefundHead", _head(withdrawal, opening))
    lines = {line.gnum: line for line in withdrawal.inventory.lines}
    for returned in withdrawal.returned:
        line = lines[returned.gnum]
        add_node(
            node,
            "InvtRefundList",
            [
                ("gnum", str(line.gnum)),
                ("gcode", line.gcode),
                ("gname", line.gname),
                ("qty", format_quantity(returned.qty)),
                ("unit", line.unit),
            ],
        )
