"""SQL for the tax classification operators keep (``tax_rules``) and the SKUs' net content.

Rates are stored in ten-thousandths (basis points) and come back as ``Decimal`` fractions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import tax_rules
from flashport.domain.catalog import TaxCategory
from flashport.domain.tax import NetContent
from flashport.domain.tax_classes import TaxRule, label_content

BP = Decimal(10_000)


def _bp(rate: Decimal | None) -> int | None:
    return None if rate is None else int(rate * BP)


def _rate(bp: int | None) -> Decimal | None:
    return None if bp is None else Decimal(bp) / BP


def _rule(row: Any) -> TaxRule:
    return TaxRule(
        hs_prefix=row.hs_prefix,
        tax_category=None if row.tax_category is None else TaxCategory(row.tax_category),
        label=row.label,
        vat_rate=Decimal(row.vat_rate_bp) / BP,
        consumption_tax_rate=Decimal(row.consumption_tax_rate_bp) / BP,
        tariff_rate=_rate(row.tariff_rate_bp),
        threshold_per_ml_or_gram_fen=row.threshold_per_ml_or_gram_fen,
        threshold_per_piece_fen=row.threshold_per_piece_fen,
    )


async def all_rules(conn: AsyncConnection) -> list[TaxRule]:
    rows = await conn.execute(sa.select(tax_rules).order_by(tax_rules.c.tax_category, tax_rules.c.hs_prefix))
    return [_rule(row) for row in rows]


def _key_clause(rule: TaxRule) -> Any:
    if rule.hs_prefix is not None:
        return tax_rules.c.hs_prefix == rule.hs_prefix
    return tax_rules.c.tax_category == str(rule.tax_category)


async def put_rule(conn: AsyncConnection, rule: TaxRule, user_id: int, now: datetime) -> bool:
    """Create or replace the rule of its key (HS prefix or category); True when it was new. The
    caller's transaction should hold the lock (a concurrent put of the same key fails on the unique
    constraint rather than writing twice)."""
    values = {
        "label": rule.label,
        "vat_rate_bp": _bp(rule.vat_rate),
        "consumption_tax_rate_bp": _bp(rule.consumption_tax_rate),
        "tariff_rate_bp": _bp(rule.tariff_rate),
        "threshold_per_ml_or_gram_fen": rule.threshold_per_ml_or_gram_fen,
        "threshold_per_piece_fen": rule.threshold_per_piece_fen,
        "updated_by": user_id,
        "updated_at": now,
    }
    changed = await conn.execute(tax_rules.update().where(_key_clause(rule)).values(**values))
    if changed.rowcount == 1:
        return False
    category = None if rule.tax_category is None else str(rule.tax_category)
    await conn.execute(tax_rules.insert().values(hs_prefix=rule.hs_prefix, tax_category=category, **values))
    return True


async def delete_rule(conn: AsyncConnection, *, hs_prefix: str | None, tax_category: str | None) -> bool:
    clause = (
        tax_rules.c.hs_prefix == hs_prefix
        if hs_prefix is not None
        else tax_rules.c.tax_category == tax_category
    )
    return (await conn.execute(tax_rules.delete().where(clause))).rowcount == 1


def content_of(amount: Decimal | None, unit: str | None) -> NetContent | None:
    """The consumption-tax measure of an SKU's net content as the catalog stores it."""
    return label_content(amount, unit)
