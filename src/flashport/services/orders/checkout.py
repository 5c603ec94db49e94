"""Checkout: between buying and paying, the buyer names the consignee and the identity they buy as, and
the platform prices the order for customs: freight, discount, the cross-border tax line by line, and
the amount payable (rule 8; docs/architecture.md, "The business").

Checkout must come before the payment is created, because the payment charges ``orders.total_fen``:
once a payment exists for the order, checkout is refused. It may be repeated until then (another
address, another identity). The annual limit is checked here against what the identity has paid this
year; the payment settlement re-checks it atomically (:mod:`flashport.services.orders.quota`), since two
orders of one person can be paid at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import orders_repo, payments_repo, tax_rules_repo
from flashport.domain.catalog import TaxCategory
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.identity import buyer_phone, check_consignee
from flashport.domain.limits import check_annual_limit, customs_year, regime_for
from flashport.domain.money import format_fen
from flashport.domain.orders import OrderStatus
from flashport.domain.payments import check_payable
from flashport.domain.tax import Assessment, TaxableLine, assess, dutiable_value_fen
from flashport.domain.tax_classes import classify
from flashport.services.accounts.identities import own_identity
from flashport.services.catalog.tax_rules import Classification, builtin_of
from flashport.services.context import Context, Tx
from flashport.services.orders.quota import paid_this_year
from flashport.services.orders.views import CheckoutView, checkout_of
from flashport.settings import Settings


@dataclass(frozen=True)
class CheckoutForm:
    consignee_name: str
    consignee_phone: str
    consignee_address: str
    consignee_district: str | None
    identity_id: int


async def check_out(ctx: Context, buyer_id: int, order_no: str, form: CheckoutForm) -> CheckoutView:
    consignee = check_consignee(
        form.consignee_name, form.consignee_phone, form.consignee_address, form.consignee_district
    )
    async with ctx.transaction() as tx:
        # Locked: a payment starting meanwhile (which locks the same row) waits for this checkout.
        order = await orders_repo.lock_for_buyer(tx.conn, buyer_id, order_no)
        if order is None:  # another buyer's order looks exactly like a missing one
            raise NotFound(f"order {order_no} not found", code="order_not_found")
        check_payable(OrderStatus(order.status), order.payment_deadline, tx.now)
        if await payments_repo.any_for_order(tx.conn, order.id):
            raise Conflict(
                "this order's payment has already started; its amount can no longer change",
                code="checkout_after_payment",
            )
        identity = await own_identity(tx.conn, buyer_id, form.identity_id)
        lines = await orders_repo.taxable_lines(tx.conn, order.id)
        rules = Classification(tuple(await tax_rules_repo.all_rules(tx.conn)), builtin_of(ctx.settings))
        assessment = price_order(ctx.settings, rules, lines, order.discount_fen)
        # The year is the one the payment will fall in, in China; settlement re-checks with the real
        # payment time, so an order checked out on 31 December and paid on 1 January counts in January.
        paid = await paid_this_year(tx.conn, identity.id_hash, customs_year(tx.now))
        check_annual_limit(paid, assessment.dutiable_value_fen, ctx.settings.annual_limit_fen)
        buyer = orders_repo.DeclaredBuyer(
            identity.name, identity.id_cipher, identity.id_masked, identity.id_hash
        )
        phone = buyer_phone(identity.name, identity.phone, consignee)  # before anything is written
        await orders_repo.record_checkout(tx.conn, order.id, consignee, buyer, assessment, tx.now)
        await orders_repo.record_buyer_phone(tx.conn, order.id, phone)
        await _emit_checked_out(tx, order, buyer, assessment)
        return await _breakdown(tx.conn, order.id)


async def get_checkout(ctx: Context, buyer_id: int, order_no: str) -> CheckoutView:
    async with ctx.read() as conn:
        order_id = await orders_repo.id_for_buyer(conn, buyer_id, order_no, checked_out=True)
        if order_id is None:
            raise NotFound(f"order {order_no} has not been checked out", code="checkout_not_found")
        return await _breakdown(conn, order_id)


def price_order(
    settings: Settings, rules: Classification, lines: Sequence[Any], discount_fen: int
) -> Assessment:
    """Freight, the tax regime the limits allow (or a refusal), and the tax of every line at the rates
    of its product's classification. The platform charges no insurance (``insuredFee`` 0)."""
    taxable = [
        TaxableLine(
            ln.line_no,
            ln.total_fen,
            classify(ln.hs_code, TaxCategory(ln.tax_category), rules.rules, rules.builtin),
            ln.quantity,
            tax_rules_repo.content_of(ln.net_content, ln.net_content_unit),
        )
        for ln in lines
    ]
    goods = sum(line.goods_fen for line in taxable)
    value = dutiable_value_fen(goods, settings.freight_fen)
    regime = regime_for(value, [ln.quantity for ln in lines], settings.single_transaction_limit_fen)
    return assess(
        taxable,
        freight_fen=settings.freight_fen,
        discount_fen=discount_fen,
        share=settings.cross_border_tax_share,
        regime=regime,
    )


async def _emit_checked_out(
    tx: Tx, order: Any, buyer: orders_repo.DeclaredBuyer, assessment: Assessment
) -> None:
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
            "buyer_id_number": buyer.id_masked,
        },
    )


async def _breakdown(conn: AsyncConnection, order_id: str) -> CheckoutView:
    order = await orders_repo.load_order(conn, order_id)
    assert order is not None  # found or locked by the caller in this same transaction
    return checkout_of(order, order["lines"])
