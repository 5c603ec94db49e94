"""Tax classification as operators keep it (docs/tax-and-limits.md): rules per HS prefix or tax
category. The consumption-tax thresholds are measured against each SKU's net content, which the catalog
keeps with the SKU (``net_content``, ``net_content_unit``).

Every change is an outbox event (``tax_rule.changed``, ``tax_rule.removed``), so what an order was
taxed under can be traced to who set which rate when. Orders already checked out
keep the taxes they were priced with; a changed rule applies from the next checkout."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flashport.adapters.db import tax_rules_repo
from flashport.domain.accounts import Principal, Role
from flashport.domain.errors import NotFound
from flashport.domain.tax import TaxClass
from flashport.domain.tax_classes import TaxRule, builtin_classes, check_rule
from flashport.services.context import Context
from flashport.settings import Settings


@dataclass(frozen=True)
class Classification:
    """What the platform taxes by: the operators' rules, and the built-in rates of each category."""

    rules: tuple[TaxRule, ...]
    builtin: Mapping[str, TaxClass]


def builtin_of(settings: Settings) -> dict[str, TaxClass]:
    return builtin_classes(settings.vat_rate, settings.reduced_vat_rate, settings.consumption_tax_rate)


async def classification(ctx: Context) -> Classification:
    async with ctx.read() as conn:
        rules = await tax_rules_repo.all_rules(conn)
    return Classification(tuple(rules), builtin_of(ctx.settings))


def _payload(rule: TaxRule) -> dict[str, Any]:
    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return {
        "key": rule.key,
        "hs_prefix": rule.hs_prefix,
        "tax_category": text(rule.tax_category),
        "label": rule.label,
        "vat_rate": str(rule.vat_rate),
        "consumption_tax_rate": str(rule.consumption_tax_rate),
        "tariff_rate": text(rule.tariff_rate),
        "threshold_per_ml_or_gram_fen": rule.threshold_per_ml_or_gram_fen,
        "threshold_per_piece_fen": rule.threshold_per_piece_fen,
    }


async def put_rule(ctx: Context, who: Principal, **fields: Any) -> tuple[TaxRule, bool]:
    """Create or replace the rule of an HS prefix or tax category (operators only); True if new."""
    who.require(Role.OPERATOR)
    rule = check_rule(**fields)
    async with ctx.transaction() as tx:
        created = await tax_rules_repo.put_rule(tx.conn, rule, who.user_id, tx.now)
        await tx.emit("tax_rule.changed", f"tax_rule:{rule.key}", {**_payload(rule), "by": who.user_id})
    return rule, created


async def delete_rule(
    ctx: Context, who: Principal, *, hs_prefix: str | None, tax_category: str | None
) -> None:
    who.require(Role.OPERATOR)
    key = f"hs:{hs_prefix}" if hs_prefix is not None else str(tax_category)
    async with ctx.transaction() as tx:
        if not await tax_rules_repo.delete_rule(tx.conn, hs_prefix=hs_prefix, tax_category=tax_category):
            raise NotFound(f"no tax rule for {key}", code="tax_rule_not_found")
        await tx.emit("tax_rule.removed", f"tax_rule:{key}", {"key": key, "by": who.user_id})


async def list_rules(ctx: Context, who: Principal) -> list[TaxRule]:
    who.require(Role.OPERATOR)
    return list((await classification(ctx)).rules)
