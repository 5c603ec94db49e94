"""Customs messages for China's cross-border e-commerce retail import (CEB, 2022-05 schema).

A pure layer: business content in (:mod:`.model`), XML out (:mod:`.declarations`, :mod:`.inventory`),
receipts parsed and built (:mod:`.receipts`), signatures (:mod:`.signing`) and validation against the
official XSD (:mod:`.validate`). No database, no network: transport to the single window is elsewhere.
"""

from flashport.ceb.checks import check_inventory, check_order, check_order_amounts
from flashport.ceb.declarations import order_message, payment_message, waybill_message
from flashport.ceb.errors import (
    CustomsMessageError,
    InconsistentDeclaration,
    ReceiptUnreadable,
    SchemaNotFound,
    SignatureInvalid,
    SigningRequired,
)
from flashport.ceb.formatting import new_guid
from flashport.ceb.inventory import inventory_message
from flashport.ceb.model import (
    AppStatus,
    AppType,
    BondedImport,
    Consignee,
    DirectImport,
    Enterprise,
    InventoryDeclaration,
    InventoryLine,
    OrderDeclaration,
    OrderLine,
    PaymentDeclaration,
    PaymentReference,
    Person,
    Sender,
    WaybillDeclaration,
)
from flashport.ceb.receipts import Receipt, ReceiptKind, parse_receipt, parse_receipts, receipt_message
from flashport.ceb.signing import Signer, SoftwareKeySigner, verify_signature
from flashport.ceb.validate import validate

__all__ = [
    "AppStatus",
    "AppType",
    "BondedImport",
    "Consignee",
    "CustomsMessageError",
    "DirectImport",
    "Enterprise",
    "InconsistentDeclaration",
    "InventoryDeclaration",
    "InventoryLine",
    "OrderDeclaration",
    "OrderLine",
    "PaymentDeclaration",
    "PaymentReference",
    "Person",
    "Receipt",
    "ReceiptKind",
    "ReceiptUnreadable",
    "SchemaNotFound",
    "Sender",
    "SignatureInvalid",
    "Signer",
    "SigningRequired",
    "SoftwareKeySigner",
    "WaybillDeclaration",
    "check_inventory",
    "check_order",
    "check_order_amounts",
    "inventory_message",
    "new_guid",
    "order_message",
    "parse_receipt",
    "parse_receipts",
    "payment_message",
    "receipt_message",
    "validate",
    "verify_signature",
    "waybill_message",
]
