"""Checkout: between buying and paying, the buyer names the consignee and the identity they buy as, and
the platform prices the order for customs: freight, discount, the cross-border tax line by line, and
the amount payable (rule 8, CROSSBORDER.md "Tax").

Checkout must come before the payment is created, because the payment charges ``orders.total_fen``:
once a payment exists for the order, checkout is refused. It may be repeated until then (another
address, another identity). The annual limit is checked here against what the identity has paid this
year; the payment settlement re-checks it atomically with :func:`reserve_annual_quota_within`, since two
orders of one person can be paid at the same moment.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import identity_year_totals, order_lines, orders, payments, products, skus
from flashport.domain.catalog import TaxCategory
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.identity import Consignee, check_consignee
from flashport.domain.limits import check_annual_limit, customs_year, regime_for
from flashport.domain.money import format_fen
from flashport.domain.orders import OrderStatus
from flashport.domain.payments import check_payable
from flashport.domain.tax import Assessment, TaxableLine, TaxRates, assess, transaction_value_fen
from flashport.services.accounts.identities import own_identity
from flashport.services.context import Context, Tx
from flashport.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckoutForm:
    consignee_name: str
    consignee_phone: str
    consignee_address: str
    consignee_district: str | None
    identity_id: int


def tax_rates(settings: Settings) -> TaxRates:
    return TaxRates(
        vat=settings.vat_rate,
        reduced_vat=settings.reduced_vat_rate,
        consumption_tax=settings.consumption_tax_rate,
        cross_border_share=settings.cross_border_tax_share,
        general_trade_tariff=settings.general_trade_tariff_rate,
    )


async def check_out(ctx: Context, buyer_id: int, order_no: str, form: CheckoutForm) -> dict[str, Any]:
    consignee = check_consignee(
        form.consignee_name, form.consignee_phone, form.consignee_address, form.consignee_district
    )
    async with ctx.transaction() as tx:
        order = await _locked_order(tx.conn, buyer_id, order_no)
        check_payable(OrderStatus(order.status), order.payment_deadline, tx.now)
        if await tx.conn.scalar(sa.select(payments.c.id).where(payments.c.order_id == order.id).limit(1)):
            raise Conflict(
                "this order's payment has already started; its amount can no longer change",
                code="checkout_after_payment",
            )
        identity = await own_identity(tx.conn, buyer_id, form.identity_id)
        lines = await _lines(tx.conn, order.id)
        assessment = price_order(ctx.settings, lines, order.discount_fen)
        paid = await paid_this_year(tx.conn, identity.id_hash, customs_year(tx.now))
        check_annual_limit(paid, assessment.transaction_value_fen, ctx.settings.annual_limit_fen)
        await _store(tx, order, consignee, identity, assessment)
        return await _breakdown(tx.conn, order.id)


async def get_checkout(ctx: Context, buyer_id: int, order_no: str) -> dict[str, Any]:
    async with ctx.read() as conn:
        order_id = await conn.scalar(
            sa.select(orders.c.id).where(
                orders.c.order_no == order_no,
                orders.c.buyer_id == buyer_id,
                orders.c.checked_out_at.is_not(None),
            )
        )
        if order_id is None:
            raise NotFound(f"order {order_no} has not been checked out", code="checkout_not_found")
        return await _breakdown(conn, order_id)


def price_order(settings: Settings, lines: Sequence[Any], discount_fen: int) -> Assessment:
    """Freight, the tax regime the limits allow (or a refusal), and the tax of every line."""
    taxable = [TaxableLine(ln.line_no, ln.total_fen, TaxCategory(ln.tax_category)) for ln in lines]
    goods = sum(line.goods_fen for line in taxable)
    value = transaction_value_fen(goods, settings.freight_fen, discount_fen)
    regime = regime_for(value, [ln.quantity for ln in lines], settings.single_transaction_limit_fen)
    return assess(
        taxable,
        freight_fen=settings.freight_fen,
        discount_fen=discount_fen,
        rates=tax_rates(settings),
        regime=regime,
    )


async def _locked_order(conn: AsyncConnection, buyer_id: int, order_no: str) -> Any:
    order = (
        await conn.execute(
            sa.select(orders)
            .where(orders.c.order_no == order_no, orders.c.buyer_id == buyer_id)
            .with_for_update()
        )
    ).first()
    if order is None:  # another buyer's order looks exactly like a missing one
        raise NotFound(f"order {order_no} not found", code="order_not_found")
    return order


async def _lines(conn: AsyncConnection, order_id: str) -> list[Any]:
    query = (
        sa.select(
            order_lines.c.line_no, order_lines.c.quantity, order_lines.c.total_fen, products.c.tax_category
        )
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.line_no)
    )
    return list((await conn.execute(query)).all())


async def _store(tx: Tx, order: Any, consignee: Consignee, identity: Any, assessment: Assessment) -> None:
    await tx.conn.execute(
        orders.update()
        .where(orders.c.id == order.id)
        .values(
            consignee_name=consignee.name,
            consignee_phone=consignee.phone,
            consignee_address=consignee.address,
            consignee_district=consignee.district,
            buyer_name=identity.name,
            buyer_id_cipher=identity.id_cipher,
            buyer_id_masked=identity.id_masked,
            buyer_id_hash=identity.id_hash,
            freight_fen=assessment.freight_fen,
            tax_fen=assessment.tax_fen,
            total_fen=assessment.total_fen,
            tax_regime=assessment.regime.value,
            checked_out_at=tx.now,
        )
    )
    for line in assessment.lines:
        await tx.conn.execute(
            order_lines.update()
            .where(order_lines.c.order_id == order.id, order_lines.c.line_no == line.line_no)
            .values(
                tax_category=line.category.value,
                tax_base_fen=line.base_fen,
                tariff_fen=line.tariff_fen,
                consumption_tax_fen=line.consumption_tax_fen,
                vat_fen=line.vat_fen,
            )
        )
    await tx.emit(
        "order.checked_out",
        f"order:{order.order_no}",
        {
            "order_id": order.id,
            "order_no": order.order_no,
            "tax_regime": assessment.regime.value,
            "goods_value": format_fen(assessment.goods_fen),
            "freight": format_fen(assessment.freight_fen),
            "discount": format_fen(assessment.discount_fen),
            "tax": format_fen(assessment.tax_fen),
            "total": format_fen(assessment.total_fen),
            "buyer_id_number": identity.id_masked,
        },
    )


async def _breakdown(conn: AsyncConnection, order_id: str) -> dict[str, Any]:
    order = (await conn.execute(sa.select(orders).where(orders.c.id == order_id))).one()
    lines = await conn.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.line_no)
    )
    return checkout_view(order._mapping, [ln._mapping for ln in lines])


def checkout_view(
    order: Mapping[str, Any] | sa.RowMapping, lines: Sequence[Mapping[str, Any] | sa.RowMapping]
) -> dict[str, Any]:
    return {
        "order_no": order["order_no"],
        "status": order["status"],
        "tax_regime": order["tax_regime"],
        "goods_value": format_fen(order["goods_value_fen"]),
        "freight": format_fen(order["freight_fen"]),
        "discount": format_fen(order["discount_fen"]),
        "tax": format_fen(order["tax_fen"]),
        "total": format_fen(order["total_fen"]),
        "currency": "CNY",
        "lines": [_line_view(ln) for ln in lines],
        "consignee": {
            "name": order["consignee_name"],
            "phone": order["consignee_phone"],
            "address": order["consignee_address"],
            "district": order["consignee_district"],
        },
        "buyer": {"name": order["buyer_name"], "id_number": order["buyer_id_masked"]},
        "checked_out_at": order["checked_out_at"],
        "payment_deadline": order["payment_deadline"],
    }


def _line_view(line: Mapping[str, Any] | sa.RowMapping) -> dict[str, Any]:
    taxes = (line["tariff_fen"], line["consumption_tax_fen"], line["vat_fen"])
    return {
        "line_no": line["line_no"],
        "sku_id": line["sku_id"],
        "title": line["title"],
        "quantity": line["quantity"],
        "unit_price": format_fen(line["unit_price_fen"]),
        "goods_value": format_fen(line["total_fen"]),
        "tax_category": line["tax_category"],
        "tax_base": format_fen(line["tax_base_fen"]),
        "tariff": format_fen(taxes[0]),
        "consumption_tax": format_fen(taxes[1]),
        "vat": format_fen(taxes[2]),
        "tax": format_fen(sum(taxes)),
    }


# --- the annual limit, atomically (for the payment settlement) ------------------------------------------


async def paid_this_year(conn: AsyncConnection, id_hash: str, year: int) -> int:
    paid = await conn.scalar(
        sa.select(identity_year_totals.c.paid_fen).where(
            identity_year_totals.c.id_hash == id_hash, identity_year_totals.c.year == year
        )
    )
    return int(paid or 0)


async def reserve_annual_quota_within(
    tx: Tx, identity_hash: str, year: int, amount_fen: int, limit_fen: int
) -> bool:
    """Inside ``tx``: add ``amount_fen`` to the identity's paid total of ``year`` if the total stays
    within ``limit_fen``; False (and nothing written) otherwise. One conditional upsert: of two
    transactions racing for the last of the quota, the second waits for the first's row and re-checks
    against its committed total, so at most one fits. Call it once per order, in the transaction that
    moves the order to paid; a False must lead to a refund, not to a paid order."""
    if amount_fen < 0:
        raise ValueError("a negative amount cannot be reserved")
    if amount_fen > limit_fen:  # the INSERT branch has no WHERE: refuse before it
        return False
    dialect_insert = postgresql.insert if tx.conn.dialect.name == "postgresql" else sqlite.insert
    insert = dialect_insert(identity_year_totals).values(
        id_hash=identity_hash, year=year, paid_fen=amount_fen, updated_at=tx.now
    )
    stmt = insert.on_conflict_do_update(
        index_elements=[identity_year_totals.c.id_hash, identity_year_totals.c.year],
        set_={
            "paid_fen": identity_year_totals.c.paid_fen + insert.excluded.paid_fen,
            "updated_at": insert.excluded.updated_at,
        },
        where=identity_year_totals.c.paid_fen + insert.excluded.paid_fen <= limit_fen,
    )
    return (await tx.conn.execute(stmt)).rowcount == 1


async def release_annual_quota_within(tx: Tx, identity_hash: str, year: int, amount_fen: int) -> None:
    """Inside ``tx``: give back a reservation whose money went back (a paid order refunded)."""
    await tx.conn.execute(
        identity_year_totals.update()
        .where(
            identity_year_totals.c.id_hash == identity_hash,
            identity_year_totals.c.year == year,
            identity_year_totals.c.paid_fen >= amount_fen,
        )
        .values(paid_fen=identity_year_totals.c.paid_fen - amount_fen, updated_at=tx.now)
    )


def quota_of(order: Any) -> int:
    """What an order counts toward its identity's year: its transaction value, in full."""
    return transaction_value_fen(order.goods_value_fen, order.freight_fen, order.discount_fen)


async def reserve_order_quota_within(ctx: Context, tx: Tx, order: Any, paid_at: datetime) -> bool:
    """:func:`reserve_annual_quota_within` for a checked-out order row, counted in the year of
    ``paid_at`` in China. An order without checkout carries no identity and reserves nothing (True)."""
    if order.buyer_id_hash is None:
        log.warning("order %s paid without checkout: no identity to count", order.order_no)
        return True
    return await reserve_annual_quota_within(
        tx, order.buyer_id_hash, customs_year(paid_at), quota_of(order), ctx.settings.annual_limit_fen
    )
