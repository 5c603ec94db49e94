"""Partners and what each may see (issue 15), pure: the kinds, the key format, the reduction of buyer
data for suppliers, and which outbox records reach which kind of partner."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from flashport.domain.errors import FieldProblem, InvalidInput

KEY_PREFIX = "fpk_"


class PartnerKind(enum.StrEnum):
    SUPPLIER = "supplier"
    CARRIER = "carrier"
    PAYMENT_COMPANY = "payment_company"
    CUSTOMS_BROKER = "customs_broker"


@dataclass(frozen=True, slots=True)
class Partner:
    id: int
    name: str
    kind: PartnerKind
    supplier_id: int | None
    logistics_code: str | None
    pay_code: str | None
    is_active: bool
    created_at: datetime


def check_link(
    kind: PartnerKind, supplier_id: int | None, logistics_code: str | None, pay_code: str | None
) -> None:
    """Each kind is linked to exactly the one thing its scope is computed from, and to nothing else."""
    needed = {
        PartnerKind.SUPPLIER: "supplier_id",
        PartnerKind.CARRIER: "logistics_code",
        PartnerKind.PAYMENT_COMPANY: "pay_code",
        PartnerKind.CUSTOMS_BROKER: None,
    }[kind]
    given = {"supplier_id": supplier_id, "logistics_code": logistics_code, "pay_code": pay_code}
    problems = [
        FieldProblem(
            field, f"a {kind.value} partner needs it" if field == needed else f"not for a {kind.value}"
        )
        for field, value in given.items()
        if (field == needed) != (value not in (None, ""))
    ]
    if problems:
        raise InvalidInput("the partner's link does not fit its kind", code="partner_link", details=problems)


# Which outbox record types each kind receives (for the subjects in its scope). A supplier follows its
# goods (orders, stock, settlements); a carrier the shipments it carries; the payment company the money.
# A customs broker has room in the model but no feed yet.
_SUPPLIER_TYPES = ("order.", "stock.", "payment.succeeded", "refund.succeeded", "declaration.released")
_CARRIER_TYPES = (
    "declaration.declared",
    "declaration.released",
    "declaration.rejected",
    "declaration.withdrawn",
    "order.shipped",
)
_PAYMENT_TYPES = ("payment.", "refund.")


def kind_wants(kind: PartnerKind, type_: str) -> bool:
    prefixes = {
        PartnerKind.SUPPLIER: _SUPPLIER_TYPES,
        PartnerKind.CARRIER: _CARRIER_TYPES,
        PartnerKind.PAYMENT_COMPANY: _PAYMENT_TYPES,
        PartnerKind.CUSTOMS_BROKER: (),
    }[kind]
    return any(type_ == p or (p.endswith(".") and type_.startswith(p)) for p in prefixes)


# Payload fields a partner may receive: references and states, never a buyer's person. Anything else in
# an outbox payload stays in-house; the partner follows the event's link for the scoped resource.
THIN_FIELDS = frozenset(
    {
        "order_no",
        "status",
        "state",
        "from",
        "to",
        "quantity",
        "version",
        "logistics_no",
        "carrier_status",
        "trade_mode",
        "reason_code",
        "payment_id",
        "refund_id",
        "out_request_no",  # the payment company's key for making a refund once
        "out_trade_no",
        "trade_no",
        "amount",
        "reason",
        "sku_id",
        "warehouse_id",
        "on_hand",
        "allotted",
        "endpoint_id",
        "url",
    }
)


def thin(payload: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in payload.items() if k in THIN_FIELDS}


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough to recognise, not to call."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def city_of(district: str | None) -> str | None:
    """A six-digit administrative division code cut to its city (prefecture): 310115 -> 310100."""
    if not district or len(district) != 6 or not district.isdigit():
        return None
    return district[:4] + "00"
