"""The platform as withholding agent, for compliance officers (operators): what it owes customs per
month from customs' own tax bills (CEB816), and every order where the tax billed is not the tax the
buyer paid."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from flashport.api.deps import OperatorOnly, get_ctx, roles_doc
from flashport.domain.accounts import Principal, Role
from flashport.domain.withholding import BillStatus, OrderTax, PeriodLedger, Reconciliation
from flashport.services.context import Context
from flashport.services.customs import tax_bills

router = APIRouter(prefix="/api/v1/withholding", tags=["customs"])
Ctx = Depends(get_ctx)


class BillOut(BaseModel):
    tax_no: str = Field(description="customs' electronic tax bill number")
    status: BillStatus = Field(description="1 issued, 2 summarised for payment, 3 cancelled")
    billed_fen: int = Field(description="customsTax + valueAddedTax + consumptionTax on the bill")
    issued_at: datetime


class OrderTaxOut(BaseModel):
    order_no: str | None = Field(description="null while no released declaration carries invt_no")
    invt_no: str = Field(description="the released inventory list the bills tax")
    collected_fen: int | None = Field(description="the tax the buyer paid on the order")
    billed_fen: int = Field(description="every bill of the order, cancelled ones left out")
    difference_fen: int = Field(description="billed - collected")
    reconciliation: Reconciliation
    bills: list[BillOut]

    @classmethod
    def of(cls, found: OrderTax) -> OrderTaxOut:
        bills = [
            BillOut(tax_no=b.tax_no, status=b.status, billed_fen=b.billed_fen, issued_at=b.issued_at)
            for b in found.bills
        ]
        return cls(
            order_no=found.order_no, invt_no=found.invt_no, collected_fen=found.collected_fen,
            billed_fen=found.billed_fen, difference_fen=found.difference_fen,
            reconciliation=found.reconciliation, bills=bills,
        )  # fmt: skip


class PeriodOut(BaseModel):
    period: str = Field(description="YYYY-MM, by the bills' issue time in China")
    bills: int = Field(description="tax bills of the month, cancelled ones left out")
    owed_fen: int = Field(description="what the platform owes customs for the month: the sum billed")
    collected_fen: int = Field(description="what the buyers of those orders paid as tax")
    difference_fen: int = Field(description="owed - collected")
    summarised_fen: int = Field(description="the part customs already gathered for payment (status 2)")
    mismatches: list[OrderTaxOut] = Field(description="every order whose bills differ from its tax collected")

    @classmethod
    def of(cls, found: PeriodLedger) -> PeriodOut:
        return cls(
            period=found.period, bills=found.bills, owed_fen=found.billed_fen,
            collected_fen=found.collected_fen, difference_fen=found.billed_fen - found.collected_fen,
            summarised_fen=found.summarised_fen, mismatches=[OrderTaxOut.of(o) for o in found.mismatches],
        )  # fmt: skip


@router.get(
    "/periods/{period}",
    response_model=PeriodOut,
    summary="What the platform owes customs for one month, with every mismatch",
    **roles_doc(Role.OPERATOR, errors=(422,)),
)
async def get_period(
    period: str = Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
    _: Principal = OperatorOnly,
    ctx: Context = Ctx,
) -> PeriodOut:
    return PeriodOut.of(await tax_bills.period_ledger(ctx, period))


@router.get(
    "/orders/{order_no}",
    response_model=OrderTaxOut,
    summary="The tax bills of one order, reconciled against the tax the buyer paid",
    **roles_doc(Role.OPERATOR, errors=(404,)),
)
async def get_order(order_no: str, _: Principal = OperatorOnly, ctx: Context = Ctx) -> OrderTaxOut:
    return OrderTaxOut.of(await tax_bills.order_tax(ctx, order_no))
