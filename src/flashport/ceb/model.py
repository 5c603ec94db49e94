"""The business content of the four declarations, independent of XML.

Money is integer fen; times are timezone-aware datetimes (the builders show them in China Standard
Time); weights and legal quantities are ``Decimal`` kilograms / units, never floats. Field names follow
the business; the XML element each one becomes is named where it is not obvious.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from flashport.ceb.codes import (
    CHINA,
    DEFAULT_BONDED_TRANSPORT_MODE,
    DEFAULT_DIRECT_TRANSPORT_MODE,
    ID_TYPE_RESIDENT_CARD,
    PACKAGES_PER_WAYBILL,
    TradeMode,
)


class AppType(StrEnum):
    """``appType``: what the message does to the document customs holds."""

    NEW = "1"
    CHANGE = "2"
    DELETE = "3"


class AppStatus(StrEnum):
    """``appStatus``: 1 keeps the document at the e-port without declaring it, 2 declares it."""

    SAVED = "1"
    DECLARED = "2"


@dataclass(frozen=True)
class Sender:
    """The enterprise transmitting the message (``BaseTransfer``) and its data-exchange (DXP) user id."""

    cop_code: str
    cop_name: str
    dxp_id: str


@dataclass(frozen=True)
class Enterprise:
    """An enterprise registered with customs: code (10-character customs code or 18-character credit
    code) and registered name. Platforms, sellers, payment and logistics companies, agents, warehouses."""

    code: str
    name: str


@dataclass(frozen=True)
class Person:
    """A real-name individual: the buyer or payer (``buyerName``/``payerName``, ``...IdNumber``...)."""

    name: str
    id_number: str
    telephone: str
    id_type: str = ID_TYPE_RESIDENT_CARD


@dataclass(frozen=True)
class Consignee:
    """Who receives the parcel; must be identical on the order and the waybill."""

    name: str
    telephone: str
    address: str
    district: str | None = None  # 6-digit administrative division code (order only)


@dataclass(frozen=True)
class PaymentReference:
    """The payment behind an order (``payCode``/``payName``/``payTransactionId``)."""

    company: Enterprise
    transaction_id: str


@dataclass(frozen=True)
class OrderLine:
    gnum: int  # line number, from 1
    item_name: str  # Chinese name on the platform
    gmodel: str  # brand, specification, model, ingredients... as customs classification needs
    unit: str  # customs measurement-unit code
    qty: int
    price: int  # fen per unit
    total_price: int  # fen; must equal price x qty
    country: str  # customs country code of origin
    item_no: str | None = None  # the seller's SKU
    bar_code: str | None = None
    description: str | None = None  # itemDescribe
    note: str | None = None


@dataclass(frozen=True)
class OrderDeclaration:
    """CEB311: the platform's electronic order."""

    order_no: str
    platform: Enterprise  # ebpCode / ebpName
    seller: Enterprise  # ebcCode / ebcName: the e-commerce enterprise selling the goods
    goods_value: int  # fen, sum of the lines, before non-cash discounts
    freight: int
    discount: int  # non-cash deductions (points, vouchers)
    tax_total: int  # tax withheld by the platform
    actural_paid: int  # the standard's spelling; goods + freight + tax - discount
    buyer_reg_no: str  # the buyer's account on the platform
    buyer: Person
    consignee: Consignee
    lines: tuple[OrderLine, ...]
    payment: PaymentReference | None = None
    note: str | None = None


@dataclass(frozen=True)
class PaymentDeclaration:
    """CEB411: the payment company's payment voucher."""

    payment_company: Enterprise  # payCode / payName
    pay_transaction_id: str
    order_no: str
    platform: Enterprise
    payer: Person
    amount_paid: int  # fen; equals the order's actural_paid
    pay_time: datetime
    note: str | None = None


@dataclass(frozen=True)
class WaybillDeclaration:
    """CEB511: the logistics company's waybill for one parcel."""

    logistics_company: Enterprise
    logistics_no: str  # the parcel's waybill number, unique per company for six months
    order_no: str
    weight_kg: Decimal  # gross weight
    consignee: Consignee
    freight: int = 0
    insured_fee: int = 0
    bill_no: str | None = None  # master air waybill / bill of lading (direct import)
    goods_info: str | None = None
    pack_no: int = PACKAGES_PER_WAYBILL
    note: str | None = None


@dataclass(frozen=True)
class BondedImport:
    """1210: goods leave a bonded warehouse; its customs account book and operator are declared."""

    ems_no: str  # the warehouse's customs account book
    warehouse: Enterprise  # areaCode / areaName
    transport_mode: str = DEFAULT_BONDED_TRANSPORT_MODE

    trade_mode: ClassVar[TradeMode] = TradeMode.BONDED_IMPORT


@dataclass(frozen=True)
class DirectImport:
    """9610: the parcel crosses the border after the sale; the carrying flight or voyage is declared."""

    traf_no: str  # means of transport (flight / vessel)
    voyage_no: str
    bill_no: str  # master air waybill or bill of lading
    transport_mode: str = DEFAULT_DIRECT_TRANSPORT_MODE

    trade_mode: ClassVar[TradeMode] = TradeMode.DIRECT_IMPORT


@dataclass(frozen=True)
class InventoryLine:
    gnum: int  # equals the order line's gnum
    gcode: str  # 10-digit HS code
    gname: str
    gmodel: str
    country: str  # customs country code of origin
    qty: int
    unit: str
    legal_qty: Decimal  # qty1, in the legal unit of the HS code
    legal_unit: str  # unit1
    price: int  # fen
    total_price: int  # fen
    item_record_no: str | None = None  # the article's number in the bonded account book (1210)
    item_no: str | None = None
    item_name: str | None = None
    bar_code: str | None = None
    trade_country: str | None = None
    second_qty: Decimal | None = None  # qty2
    second_unit: str | None = None  # unit2
    note: str | None = None


@dataclass(frozen=True)
class InventoryDeclaration:
    """CEB621: the import inventory list, declared by the seller or its customs agent."""

    order_no: str
    cop_no: str  # the declarant's own number for this list (<= 20), echoed by receipts
    platform: Enterprise
    seller: Enterprise
    logistics_company: Enterprise
    logistics_no: str
    assure_code: str  # enterprise guaranteeing the tax
    decl_date: date
    customs_code: str  # 4-digit customs district receiving the declaration
    port_code: str  # 4-digit customs district of the port of entry
    buyer: Person
    consignee_address: str
    agent: Enterprise  # the declaring enterprise
    route: BondedImport | DirectImport
    freight: int
    insured_fee: int
    gross_weight_kg: Decimal
    net_weight_kg: Decimal
    lines: tuple[InventoryLine, ...]
    country: str = CHINA  # 9610: country the parcel left from; 1210: always 142
    pack_no: int = PACKAGES_PER_WAYBILL
    ie_date: date | None = None
    loct_no: str | None = None
    license_no: str | None = None
    wrap_type: str | None = None
    note: str | None = None

    @property
    def trade_mode(self) -> TradeMode:
        return self.route.trade_mode
