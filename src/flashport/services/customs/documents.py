"""What the platform declares, read from the database: the business content of the order (CEB311) and
of the inventory list (CEB621), and the carrier's waybill request. Pure reading; nothing is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.customs.signer_file import load_or_create_signer
from flashport.adapters.db.schema import (
    brands,
    declarations,
    order_lines,
    orders,
    payments,
    products,
    sale_items,
    skus,
    warehouses,
)
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
from flashport.services.context import Context

ITEM_NO_MAX = 20  # CEB621 itemNo (CEB311 allows 30)
KILOGRAM = "035"  # customs unit code: legal quantities in kg are the goods' weight
GRAMS_PER_KG = Decimal(1000)


class NotDeclarable(Exception):
    """The data needed for a declaration is missing (a warehouse without account book...)."""


@dataclass(frozen=True)
class Facts:
    """Everything one declaration is built from, read in one go."""

    declaration: Any
    order: Any
    lines: list[Any]  # order lines joined with their SKU, product and brand
    payment: Any  # the succeeded payment
    warehouse: Any
    buyer_id_number: str

    @property
    def trade_mode(self) -> TradeMode:
        return TradeMode(self.declaration.trade_mode)

    @property
    def net_weight_kg(self) -> Decimal:
        grams = sum(line.weight_grams * line.quantity for line in self.lines)
        return (Decimal(grams) / GRAMS_PER_KG).quantize(Decimal("0.001"))


async def load(
    ctx: Context, conn: AsyncConnection, declaration_id: int, *, any_payment: bool = False
) -> Facts:
    """The declaration's facts; its order must have a succeeded payment (any payment with
    ``any_payment``: a withdrawal after the refund still names the trade that was declared)."""
    declaration = (
        await conn.execute(sa.select(declarations).where(declarations.c.id == declaration_id))
    ).one()
    order = (await conn.execute(sa.select(orders).where(orders.c.id == declaration.order_id))).one()
    lines = (
        await conn.execute(
            sa.select(
                order_lines,
                skus.c.code.label("sku_code"),
                skus.c.spec,
                skus.c.barcode,
                skus.c.unit,
                skus.c.weight_grams,
                products.c.title.label("product_title"),
                products.c.hs_code,
                products.c.legal_unit,
                products.c.origin_country,
                brands.c.name.label("brand"),
            )
            .join(skus, skus.c.id == order_lines.c.sku_id)
            .join(products, products.c.id == skus.c.product_id)
            .join(brands, brands.c.id == products.c.brand_id)
            .where(order_lines.c.order_id == order.id)
            .order_by(order_lines.c.line_no)
        )
    ).all()
    paid = payments.c.provider_trade_no.is_not(None) if any_payment else payments.c.status == "succeeded"
    payment = (
        await conn.execute(
            sa.select(payments).where(payments.c.order_id == order.id, paid).order_by(payments.c.id.desc())
        )
    ).first()
    warehouse = (
        await conn.execute(
            sa.select(warehouses)
            .join(sale_items, sale_items.c.warehouse_id == warehouses.c.id)
            .where(sale_items.c.id == order.sale_item_id)
        )
    ).one()
    if payment is None or order.buyer_id_cipher is None or ctx.vault is None:
        raise NotDeclarable(f"order {order.order_no} has no succeeded payment or no checked-out buyer")
    return Facts(declaration, order, list(lines), payment, warehouse, ctx.vault.open(order.buyer_id_cipher))


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


def buyer_of(facts: Facts) -> Person:
    order = facts.order
    return Person(order.buyer_name, facts.buyer_id_number, order.consignee_phone)


def consignee_of(order: Any) -> Consignee:
    return Consignee(
        order.consignee_name, order.consignee_phone, order.consignee_address, order.consignee_district
    )


def article_no(line: Any) -> str:
    """The goods' number on every document (itemNo, and itemRecordNo in the bonded account book): the
    SKU code when it fits the inventory list's 20 characters, else one made from the SKU id."""
    return line.sku_code if len(line.sku_code) <= ITEM_NO_MAX else f"SKU{line.sku_id}"


def _gmodel(line: Any) -> str:
    return " ".join(part for part in (line.brand, line.spec) if part)[:255] or line.title


def order_declaration(ctx: Context, facts: Facts) -> OrderDeclaration:
    s, order = ctx.settings, facts.order
    lines = tuple(
        OrderLine(
            gnum=line.line_no,
            item_name=line.title[:250],
            gmodel=_gmodel(line),
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
        buyer=buyer_of(facts),
        consignee=consignee_of(order),
        lines=lines,
        payment=PaymentReference(
            _enterprise(s.payment_customs_code, s.payment_customs_name), facts.payment.provider_trade_no
        ),
    )


def inventory_declaration(ctx: Context, facts: Facts, today: date) -> InventoryDeclaration:
    s, order, declaration = ctx.settings, facts.order, facts.declaration
    route = _route(facts)
    district = facts.warehouse.customs_district if isinstance(route, BondedImport) else s.customs_port_code
    weight = facts.net_weight_kg
    return InventoryDeclaration(
        order_no=order.order_no,
        cop_no=declaration.cop_no,
        platform=_enterprise(s.customs_platform_code, s.customs_platform_name),
        seller=_enterprise(s.customs_seller_code, s.customs_seller_name),
        logistics_company=_enterprise(declaration.logistics_code, declaration.logistics_name),
        logistics_no=declaration.logistics_no,
        assure_code=s.customs_assure_code,
        decl_date=today,
        customs_code=district,
        port_code=district,
        buyer=buyer_of(facts),
        consignee_address=order.consignee_address,
        agent=_enterprise(s.customs_agent_code, s.customs_agent_name),
        route=route,
        freight=order.freight_fen,
        insured_fee=0,
        gross_weight_kg=weight,
        net_weight_kg=weight,
        lines=tuple(_inventory_line(line, bonded=isinstance(route, BondedImport)) for line in facts.lines),
        country="142" if isinstance(route, BondedImport) else customs_country_code(facts.warehouse.country),
    )


def _route(facts: Facts) -> BondedImport | DirectImport:
    declaration, warehouse = facts.declaration, facts.warehouse
    if facts.trade_mode is TradeMode.BONDED_IMPORT:
        if not warehouse.ems_no:
            raise NotDeclarable(f"bonded warehouse {warehouse.code} has no customs account book (ems_no)")
        return BondedImport(
            ems_no=warehouse.ems_no, warehouse=_enterprise(warehouse.code[:18], warehouse.name)
        )
    if not (declaration.traf_no and declaration.voyage_no and declaration.bill_no):
        raise NotDeclarable(f"the carrier gave no flight and master waybill for {declaration.order_no}")
    return DirectImport(
        traf_no=declaration.traf_no, voyage_no=declaration.voyage_no, bill_no=declaration.bill_no
    )


def _inventory_line(line: Any, *, bonded: bool) -> InventoryLine:
    if line.legal_unit == KILOGRAM:
        legal_qty = (Decimal(line.weight_grams * line.quantity) / GRAMS_PER_KG).quantize(Decimal("0.00001"))
    else:
        legal_qty = Decimal(line.quantity)
    return InventoryLine(
        gnum=line.line_no,
        gcode=line.hs_code,
        gname=line.product_title[:250],
        gmodel=_gmodel(line),
        country=customs_country_code(line.origin_country),
        qty=line.quantity,
        unit=line.unit,
        legal_qty=legal_qty,
        legal_unit=line.legal_unit,
        price=line.unit_price_fen,
        total_price=line.total_fen,
        item_record_no=article_no(line) if bonded else None,
        item_no=article_no(line),
        item_name=line.title[:250],
        bar_code=line.barcode,
    )
