"""Tax classification (operators): the rates per HS prefix or tax category that checkout taxes with,
and each SKU's net content, against which consumption-tax thresholds are measured
(docs/tax-and-limits.md). Handlers parse, call one service function, and return."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from flashport.api.deps import OperatorOnly, get_ctx, roles_doc
from flashport.domain.accounts import Principal, Role
from flashport.domain.tax_classes import TaxRule
from flashport.services.catalog import tax_rules
from flashport.services.context import Context

router = APIRouter(prefix="/api/v1", tags=["tax"])
Ctx = Depends(get_ctx)
Rate = Field(examples=["0.13"], description="a fraction (0.13 for 13 %), at most four decimals")


class TaxRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(max_length=200, examples=["High-end cosmetics"])
    vat_rate: Decimal = Rate
    consumption_tax_rate: Decimal = Field(default=Decimal(0), examples=["0.15"], description="0 if none")
    tariff_rate: Decimal | None = Field(
        default=None,
        examples=["0.05"],
        description="the goods' own (MFN) import tariff, charged only in general trade; HS rules only",
    )
    threshold_per_ml_or_gram_fen: int | None = Field(
        default=None, examples=[1000], description="consumption tax only at or above this price per ml or g"
    )
    threshold_per_piece_fen: int | None = Field(
        default=None, examples=[1500], description="consumption tax only at or above this price per piece"
    )


class TaxRuleOut(BaseModel):
    key: str
    hs_prefix: str | None
    tax_category: str | None
    label: str
    vat_rate: str
    consumption_tax_rate: str
    tariff_rate: str | None
    threshold_per_ml_or_gram_fen: int | None
    threshold_per_piece_fen: int | None

    @classmethod
    def of(cls, rule: TaxRule) -> TaxRuleOut:
        return cls(
            key=rule.key,
            hs_prefix=rule.hs_prefix,
            tax_category=None if rule.tax_category is None else str(rule.tax_category),
            label=rule.label,
            vat_rate=str(rule.vat_rate),
            consumption_tax_rate=str(rule.consumption_tax_rate),
            tariff_rate=None if rule.tariff_rate is None else str(rule.tariff_rate),
            threshold_per_ml_or_gram_fen=rule.threshold_per_ml_or_gram_fen,
            threshold_per_piece_fen=rule.threshold_per_piece_fen,
        )


HsPrefix = Path(max_length=10, description="2 to 10 digits of the HS code, e.g. 3304")
Category = Path(max_length=32, description="general, reduced_vat or consumption_tax")


@router.get(
    "/tax-rules",
    response_model=list[TaxRuleOut],
    summary="List the tax rules",
    **roles_doc(Role.OPERATOR),
)
async def list_rules(who: Principal = OperatorOnly, ctx: Context = Ctx) -> list[TaxRuleOut]:
    return [TaxRuleOut.of(rule) for rule in await tax_rules.list_rules(ctx, who)]


async def _put(
    ctx: Context, who: Principal, response: Response, body: TaxRuleIn, **key: str | None
) -> TaxRuleOut:
    rule, created = await tax_rules.put_rule(ctx, who, **key, **body.model_dump())
    response.status_code = 201 if created else 200
    return TaxRuleOut.of(rule)


@router.put(
    "/tax-rules/hs/{hs_prefix}",
    response_model=TaxRuleOut,
    summary="Set the rates of every product whose HS code starts with this prefix",
    description="The longest matching prefix wins over a category rule. 201 when new, 200 when replaced.",
    **roles_doc(Role.OPERATOR, errors=(422,)),
)
async def put_hs_rule(
    body: TaxRuleIn,
    response: Response,
    hs_prefix: str = HsPrefix,
    who: Principal = OperatorOnly,
    ctx: Context = Ctx,
) -> TaxRuleOut:
    return await _put(ctx, who, response, body, hs_prefix=hs_prefix, tax_category=None)


@router.put(
    "/tax-rules/category/{tax_category}",
    response_model=TaxRuleOut,
    summary="Set the rates of a tax category (products no HS rule covers)",
    description="A category rule carries no tariff (tariffs belong to HS codes). 201 when new, else 200.",
    **roles_doc(Role.OPERATOR, errors=(422,)),
)
async def put_category_rule(
    body: TaxRuleIn,
    response: Response,
    tax_category: str = Category,
    who: Principal = OperatorOnly,
    ctx: Context = Ctx,
) -> TaxRuleOut:
    return await _put(ctx, who, response, body, hs_prefix=None, tax_category=tax_category)


@router.delete(
    "/tax-rules/hs/{hs_prefix}",
    status_code=204,
    summary="Remove the rule of an HS prefix",
    **roles_doc(Role.OPERATOR, errors=(404,)),
)
async def delete_hs_rule(
    hs_prefix: str = HsPrefix, who: Principal = OperatorOnly, ctx: Context = Ctx
) -> None:
    await tax_rules.delete_rule(ctx, who, hs_prefix=hs_prefix, tax_category=None)


@router.delete(
    "/tax-rules/category/{tax_category}",
    status_code=204,
    summary="Remove the rule of a tax category (its built-in rates apply again)",
    **roles_doc(Role.OPERATOR, errors=(404,)),
)
async def delete_category_rule(
    tax_category: str = Category, who: Principal = OperatorOnly, ctx: Context = Ctx
) -> None:
    await tax_rules.delete_rule(ctx, who, hs_prefix=None, tax_category=tax_category)
