"""CEB621, the import inventory list: the declaration customs releases the parcel on. Always signed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flashport.ceb.checks import check_inventory
from flashport.ceb.codes import CURRENCY_CNY, IE_FLAG_IMPORT
from flashport.ceb.envelope import (
    Field,
    Opening,
    add_node,
    batch_message,
    entries_of,
)
from flashport.ceb.errors import InconsistentDeclaration, SigningRequired
from flashport.ceb.formatting import format_date, format_quantity, format_yuan
from flashport.ceb.model import (
    AppStatus,
    AppType,
    BondedImport,
    InventoryDeclaration,
    InventoryLine,
    Sender,
)

if TYPE_CHECKING:
    from flashport.ceb.signing import Signer


def inventory_message(
    inventories: InventoryDeclaration | Sequence[InventoryDeclaration],
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    signer: Signer | None,
    guid: str | None = None,
    head_guids: Sequence[str] | None = None,
    app_time: datetime | None = None,
) -> bytes:
    """The signed CEB621 message declaring one inventory list or up to 100, under one signature over
    the whole message; ``head_guids`` as for :func:`~.declarations.order_message`.

    The schema makes ``ds:Signature`` mandatory on every CEB621, saved (appStatus 1) or declared (2), so
    a signer is required either way; ``signer=None`` is accepted only to fail with a clear
    :class:`SigningRequired` instead of producing a message the e-port would refuse.
    """
    if signer is None:
        raise SigningRequired("CEB621 requires ds:Signature (XSD), for appStatus 1 and 2 alike")
    entries = entries_of(inventories, InventoryDeclaration)
    many = len(entries) > 1
    problems = [f"order {i.order_no}: {p}" if many else p for i in entries for p in check_inventory(i)]
    if problems:
        raise InconsistentDeclaration(problems)
    return batch_message(
        "CEB621",
        entries,
        _add_inventory,
        sender,
        Opening(app_type, app_status, app_time),
        guid=guid,
        head_guids=head_guids,
        signer=signer,
    )


def _add_inventory(root: Any, inventory: InventoryDeclaration, opening: list[Field]) -> None:
    node = add_node(root, "Inventory")
    add_node(node, "InventoryHead", _head(inventory, opening))
    for line in inventory.lines:
        add_node(node, "InventoryList", _line(line))


def _head(inventory: InventoryDeclaration, opening: list[Field]) -> list[Field]:
    route = inventory.route
    bonded = route if isinstance(route, BondedImport) else None
    direct = None if isinstance(route, BondedImport) else route
    return [
        *opening,
        ("orderNo", inventory.order_no),
        ("ebpCode", inventory.platform.code),
        ("ebpName", inventory.platform.name),
        ("ebcCode", inventory.seller.code),
        ("ebcName", inventory.seller.name),
        ("logisticsNo", inventory.logistics_no),
        ("logisticsCode", inventory.logistics_company.code),
        ("logisticsName", inventory.logistics_company.name),
        ("copNo", inventory.cop_no),
        ("assureCode", inventory.assure_code),
        ("emsNo", bonded.ems_no if bonded else None),
        ("ieFlag", IE_FLAG_IMPORT),
        ("declTime", format_date(inventory.decl_date)),
        ("customsCode", inventory.customs_code),
        ("portCode", inventory.port_code),
        ("ieDate", format_date(inventory.ie_date) if inventory.ie_date else None),
        ("buyerIdType", inventory.buyer.id_type),
        ("buyerIdNumber", inventory.buyer.id_number),
        ("buyerName", inventory.buyer.name),
        ("buyerTelephone", inventory.buyer.telephone),
        ("consigneeAddress", inventory.consignee_address),
        ("agentCode", inventory.agent.code),
        ("agentName", inventory.agent.name),
        ("areaCode", bonded.warehouse.code if bonded else None),
        ("areaName", bonded.warehouse.name if bonded else None),
        ("tradeMode", inventory.trade_mode.value),
        ("trafMode", route.transport_mode),
        ("trafNo", direct.traf_no if direct else None),
        ("voyageNo", direct.voyage_no if direct else None),
        ("billNo", direct.bill_no if direct else None),
        ("loctNo", inventory.loct_no),
        ("licenseNo", inventory.license_no),
        ("country", inventory.country),
        ("freight", format_yuan(inventory.freight)),
        ("insuredFee", format_yuan(inventory.insured_fee)),
        ("currency", CURRENCY_CNY),
        ("wrapType", inventory.wrap_type),
        ("packNo", str(inventory.pack_no)),
        ("grossWeight", format_quantity(inventory.gross_weight_kg)),
        ("netWeight", format_quantity(inventory.net_weight_kg)),
        ("note", inventory.note),
    ]


def _line(line: InventoryLine) -> list[Field]:
    return [
        ("gnum", str(line.gnum)),
        ("itemRecordNo", line.item_record_no),
        ("itemNo", line.item_no),
        ("itemName", line.item_name),
        ("gcode", line.gcode),
        ("gname", line.gname),
        ("gmodel", line.gmodel),
        ("barCode", line.bar_code),
        ("country", line.country),
        ("tradeCountry", line.trade_country),
        ("currency", CURRENCY_CNY),
        ("qty", format_quantity(line.qty)),
        ("unit", line.unit),
        ("qty1", format_quantity(line.legal_qty)),
        ("unit1", line.legal_unit),
        ("qty2", format_quantity(line.second_qty) if line.second_qty is not None else None),
        ("unit2", line.second_unit),
        ("price", format_yuan(line.price)),
        ("totalPrice", format_yuan(line.total_price)),
        ("note", line.note),
    ]
