"""CEB513, the logistics status the carrier declares once a parcel is signed for (the schema allows
one status, ``S`` = signed for / delivered). Element order is the XSD's ``LogisticsStatus``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flashport.ceb.envelope import Field, Opening, add_node, batch_message, entries_of
from flashport.ceb.formatting import format_app_time
from flashport.ceb.model import AppStatus, AppType, Enterprise, Sender

if TYPE_CHECKING:
    from flashport.ceb.signing import Signer

SIGNED_FOR = "S"  # XSD: logisticsStatus, "limited to S" (signed for)


@dataclass(frozen=True)
class DeliveryDeclaration:
    """One parcel signed for: whose waybill, and when the consignee signed."""

    logistics_company: Enterprise
    logistics_no: str
    delivered_at: datetime
    note: str | None = None


def delivery_message(
    deliveries: DeliveryDeclaration | Sequence[DeliveryDeclaration],
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    guid: str | None = None,
    head_guids: Sequence[str] | None = None,
    app_time: datetime | None = None,
    signer: Signer | None = None,
) -> bytes:
    """The CEB513 for one parcel or up to 100; unsigned unless a signer is given (optional here)."""
    entries = entries_of(deliveries, DeliveryDeclaration)

    def add(root: Any, delivery: DeliveryDeclaration, opening: list[Field]) -> None:
        add_node(root, "LogisticsStatus", _status_fields(delivery, opening))

    return batch_message(
        "CEB513",
        entries,
        add,
        sender,
        Opening(app_type, app_status, app_time),
        guid=guid,
        head_guids=head_guids,
        signer=signer,
    )


def _status_fields(delivery: DeliveryDeclaration, opening: list[Field]) -> list[Field]:
    return [
        *opening,
        ("logisticsCode", delivery.logistics_company.code),
        ("logisticsName", delivery.logistics_company.name),
        ("logisticsNo", delivery.logistics_no),
        ("logisticsStatus", SIGNED_FOR),
        ("logisticsTime", format_app_time(delivery.delivered_at)),
        ("note", delivery.note),
    ]
