"""What the platform declares, read from the database: the business content of the order (CEB311) and
of the inventory list (CEB621), and the carrier's waybill request. Pure reading; nothing is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.customs.signer_file import load_or_create_signer
from flashport.adapters.db import declarations_repo, declared_orders_repo, declaring_repo
from flashport.adapters.db.declarations_repo import Declaration
from flashport.adapters.db.declared_orders_repo import DeclaredLine, DeclaredOrder, DeclaredPayment, Warehouse
from flashport.ceb import (
    BondedImport,
    Consignee,
    DirectImport,
    Enterprise,
    InventoryDeclaration,
    InventoryLine,
    OrderDeclaration,
    OrderLine,
    PaymentReference,
    Person,
    Sender,
)
from flashport.ceb.codes import TradeMode, customs_country_code
from flashport.ceb.signing import Signer
from flashport.domain.customs_goods import GoodsQuantity, legal_quantity
from flashport.services.context import Context

ITEM_NO_MAX = 20  # CEB621 itemNo (CEB311 allows 30)
GRAMS_PER_KG = Decimal(1000)


class NotDeclarable(Exception):
    """The data needed for a declaration is missing (a warehouse without account book...)."""


@dataclass(frozen=True)
class Facts:
    """Everything one declaration is built from, read in one go, with what checkout and payment must
    have filled in already checked (:func:`load`)."""

    declaration: Declaration
    order: DeclaredOrder
    lines: list[DeclaredLine]
    payment: DeclaredPayment  # the succeeded payment
    trade_no: str  # the provider's number of that payment
    warehouse: Warehouse
    buyer: Person  # as checked out, the ID number in clear
    consignee: Consignee  # to the character what checkout recorded

    @property
    def trade_mode(self) -> TradeMode:
        return self.declaration.trade_mode

    @property
    def net_weight_kg(self) -> Decimal:
        """The goods alone (netWeight): the SKUs' net weights, never their shipping weights."""
        return _kg(sum(line.net_weight_grams * line.quantity for line in self.lines))

    @property
    def gross_weight_kg(self) -> Decimal:
        """The goods in their packaging (grossWeight): net weight plus each unit's packaging."""
        grams = sum(
            (line.net_weight_grams + line.packaging_weight_grams) * line.quantity for line in self.lines
        )
        return _kg(grams)


def _kg(grams: int) -> Decimal:
    return (Decimal(grams) / GRAMS_PER_KG).quantize(Decimal("0.001"))


async def load(
    ctx: Context, conn: AsyncConnection, declaration_id: int, *, any_payment: bool = False
) -> Facts:
    """The declaration's facts; its order must be checked out and have a succeeded payment (any
    payment with ``any_payment``: a withdrawal after the refund still names the trade that was
    declared). Raises :class:`NotDeclarable` otherwise."""
    declaration = await declarations_repo.get(conn, declaration_id)
    order = await declared_orders_repo.order(conn, declaration.order_id)
    lines = await declared_orders_repo.lines(conn, order.id)
    payment = await declared_orders_repo.payment(conn, order.id, any_paid=any_payment)
    warehouse = await declared_orders_repo.warehouse_of_item(conn, order.sale_item_id)
    return _checked(ctx, declaration, order, lines, payment, warehouse)


async def load_many(
    ctx: Context, conn: AsyncConnection, declarations: Sequence[Declaration]
) -> tuple[dict[int, Facts], dict[int, str]]:
    """The facts of many declarations, read set-based (a few queries whatever their number), by
    declaration id; and why each of the others is not declarable, by declaration id. One order's
    missing data never keeps the others from being declared."""
    found = await declaring_repo.declared_set(conn, [d.order_id for d in declarations])
    facts: dict[int, Facts] = {}
    refused: dict[int, str] = {}
    for declaration in declarations:
        order = found.orders.get(declaration.order_id)
        warehouse = None if order is None else found.warehouses.get(order.sale_item_id)
        try:
            if order is None or warehouse is None:
                raise NotDeclarable(f"order {declaration.order_no} or the warehouse it ships from is missing")
            facts[declaration.id] = _checked(
                ctx,
                declaration,
                order,
                found.lines.get(order.id, []),
                found.payments.get(order.id),
                warehouse,
            )
        except NotDeclarable as exc:
            refused[declaration.id] = f"{type(exc).__name__}: {exc}"
    return facts, refused


def _checked(
    ctx: Context,
    declaration: Declaration,
    order: DeclaredOrder,
    lines: list[DeclaredLine],
    payment: DeclaredPayment | None,
    warehouse: Warehouse,
) -> Facts:
    """The facts, once what checkout and payment must have filled in is there."""
    o = order
    if (
        payment is None
        or payment.provider_trade_no is None
        or o.buyer_id_cipher is None
        or o.buyer_name is None
        or o.consignee_name is None
        or o.consignee_phone is None
        or o.consignee_address is None
    ):
        raise NotDeclarable(f"order {order.order_no} has no succeeded payment or no checked-out buyer")
    # The buyer's own phone; orders checked out before it was kept declare the consignee's, as they did.
    buyer = Person(o.buyer_name, ctx.vault.open(o.buyer_id_cipher), o.buyer_phone or o.consignee_phone)
    consignee = Consignee(o.consignee_name, o.consignee_phone, o.consignee_address, o.consignee_district)
    return Facts(declaration, order, lines, payment, payment.provider_trade_no, warehouse, buyer, consignee)


def signer(ctx: Context) -> Signer:
    """The key that signs the platform's inventory lists, read (or made) on first use: only the worker
    signs, so API processes never touch it."""
    if ctx.customs_signer is None:
        s = ctx.settings
        path = s.customs_signing_key or s.data_dir / "customs" / "signing-key.pem"
        ctx.customs_signer = load_or_create_signer(path, s.customs_platform_name)
    return ctx.customs_signer


def platform_sender(ctx: Context) -> Sender:
    s = ctx.settings
    return Sender(s.customs_platform_code, s.customs_platform_name, s.customs_dxp_id)


def _enterprise(code: str, name: str) -> Enterprise:
    return Enterprise(code, name)


def article_no(line: DeclaredLine) -> str:
    """The goods' number on every document (itemNo, and itemRecordNo in the bonded account book): the
    SKU code when it fits the inventory list's 20 characters, else one made from the SKU id."""
    return line.sku_code if len(line.sku_code) <= ITEM_NO_MAX else f"SKU{line.sku_id}"


def order_declaration(ctx: Context, facts: Facts) -> OrderDeclaration:
    s, order = ctx.settings, facts.order
    lines = tuple(
        OrderLine(
            gnum=line.line_no,
            item_name=line.declared_name,
            gmodel=line.gmodel,
            unit=line.unit,
            qty=line.quantity,
            price=line.unit_price_fen,
            total_price=line.total_fen,
            country=customs_country_code(line.origin_country),
            item_no=article_no(line),
            bar_code=line.barcode,
        )
        for line in facts.lines
    )
    return OrderDeclaration(
        order_no=order.order_no,
        platform=_enterprise(s.customs_platform_code, s.customs_platform_name),
        seller=_enterprise(s.customs_seller_code, s.customs_seller_name),
        goods_value=order.goods_value_fen,
        freight=order.freight_fen,
        discount=order.discount_fen,
        tax_total=order.tax_fen,
        actural_paid=order.total_fen,
        buyer_reg_no=f"U{order.buyer_id}",
        buyer=facts.buyer,
        consignee=facts.consignee,
        lines=lines,
        payment=PaymentReference(_enterprise(s.payment_customs_code, s.payment_customs_name), facts.trade_no),
    )


def inventory_declaration(ctx: Context, facts: Facts, today: date) -> InventoryDeclaration:
    s, order, declaration = ctx.settings, facts.order, facts.declaration
    route = _route(facts)
    district = facts.warehouse.customs_district if isinstance(route, BondedImport) else s.customs_port_code
    if district is None:
        raise NotDeclarable(f"bonded warehouse {facts.warehouse.code} has no customs district")
    carrier, logistics_no = _carrier(declaration)
    weight = facts.net_weight_kg
    return InventoryDeclaration(
        order_no=order.order_no,
        cop_no=declaration.cop_no,
        platform=_enterprise(s.customs_platform_code, s.customs_platform_name),
        seller=_enterprise(s.customs_seller_code, s.customs_seller_name),
        logistics_company=carrier,
        logistics_no=logistics_no,
        assure_code=s.customs_assure_code,
        decl_date=today,
        customs_code=district,
        port_code=district,
        buyer=facts.buyer,
        consignee_address=facts.consignee.address,
        agent=_enterprise(s.customs_agent_code, s.customs_agent_name),
        route=route,
        freight=order.freight_fen,
        insured_fee=0,
        gross_weight_kg=facts.gross_weight_kg,
        net_weight_kg=weight,
        lines=tuple(_inventory_line(line, bonded=isinstance(route, BondedImport)) for line in facts.lines),
        country="142" if isinstance(route, BondedImport) else customs_country_code(facts.warehouse.country),
    )


def _carrier(declaration: Declaration) -> tuple[Enterprise, str]:
    """The carrier and its waybill number, which the inventory list must name."""
    code, name, number = declaration.logistics_code, declaration.logistics_name, declaration.logistics_no
    if code is None or name is None or number is None:
        raise NotDeclarable(f"the carrier has given no waybill for {declaration.order_no} yet")
    return _enterprise(code, name), number


def _route(facts: Facts) -> BondedImport | DirectImport:
    declaration, warehouse = facts.declaration, facts.warehouse
    if facts.trade_mode is TradeMode.BONDED_IMPORT:
        if not warehouse.ems_no:
            raise NotDeclarable(f"bonded warehouse {warehouse.code} has no customs account book (ems_no)")
        if not warehouse.area_code:
            raise NotDeclarable(f"bonded warehouse {warehouse.code} has no registered area code (area_code)")
        return BondedImport(
            ems_no=warehouse.ems_no, warehouse=_enterprise(warehouse.area_code, warehouse.name)
        )
    if not (declaration.traf_no and declaration.voyage_no and declaration.bill_no):
        raise NotDeclarable(f"the carrier gave no flight and master waybill for {declaration.order_no}")
    return DirectImport(
        traf_no=declaration.traf_no, voyage_no=declaration.voyage_no, bill_no=declaration.bill_no
    )


def _inventory_line(line: DeclaredLine, *, bonded: bool) -> InventoryLine:
    """Quantities in the HS code's legal units, counted from the SKU's net weight or net content;
    the goods named as on the order (the Chinese name and gmodel); for 1210 the SKU's record number
    in the bonded account book, never an internal code."""
    if bonded and not line.item_record_no:
        raise NotDeclarable(f"SKU {line.sku_code} has no record number in the bonded account book")
    goods = GoodsQuantity(line.quantity, line.net_weight_grams, line.net_content, line.net_content_unit)
    try:
        legal_qty = legal_quantity(line.legal_unit, goods)
        second = line.second_legal_unit
        second_qty = legal_quantity(second, goods) if second else None
    except ValueError as exc:
        raise NotDeclarable(f"SKU {line.sku_code}: {exc}") from None
    return InventoryLine(
        gnum=line.line_no,
        gcode=line.hs_code,
        gname=line.declared_name,
        gmodel=line.gmodel,
        country=customs_country_code(line.origin_country),
        qty=line.quantity,
        unit=line.unit,
        legal_qty=legal_qty,
        legal_unit=line.legal_unit,
        second_qty=second_qty,
        second_unit=second,
        price=line.unit_price_fen,
        total_price=line.total_fen,
        item_record_no=line.item_record_no if bonded else None,
        item_no=article_no(line),
        item_name=line.declared_name,
        bar_code=line.barcode,
    )
