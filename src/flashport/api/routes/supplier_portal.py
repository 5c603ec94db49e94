"""The supplier portal's API: a supplier's own products and stock, the sales of its goods per event and
its settlement statement per event (JSON or CSV). A supplier's token sees its own supplier only; an
operator passes ``supplier_id``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from flashport.api.deps import SupplierPortal, duty_doc, get_ctx
from flashport.api.inputs import MAX_ID, Id
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal
from flashport.services.context import Context
from flashport.services.suppliers import portal

router = APIRouter(prefix="/api/v1/supplier", tags=["supplier portal"])
Ctx = Depends(get_ctx)
SupplierId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="operators: the supplier to look at; suppliers: their own")
]
DOC = duty_doc(Duty.OWN_SALES, errors=(404, 422))


@router.get(
    "/stock",
    response_model=list[portal.StockRow],
    summary="The supplier's SKUs and stock per warehouse",
    **DOC,
)
async def own_stock(
    supplier_id: SupplierId = None, who: Principal = SupplierPortal, ctx: Context = Ctx
) -> Any:
    chosen = await portal.whose(ctx, who.role, who.user_id, supplier_id)
    return await portal.stock(ctx, chosen)


@router.get(
    "/sales",
    response_model=list[portal.EventSales],
    summary="Sales of its goods per event: units, revenue at sale price, waiting for customs, shipped",
    **DOC,
)
async def sales(supplier_id: SupplierId = None, who: Principal = SupplierPortal, ctx: Context = Ctx) -> Any:
    chosen = await portal.whose(ctx, who.role, who.user_id, supplier_id)
    return await portal.sales_by_event(ctx, chosen)


@router.get(
    "/events/{event_id}/statement",
    response_model=portal.Statement,
    summary="The supplier's settlement statement of one event",
    **DOC,
)
async def statement(
    event_id: Id, supplier_id: SupplierId = None, who: Principal = SupplierPortal, ctx: Context = Ctx
) -> Any:
    chosen = await portal.whose(ctx, who.role, who.user_id, supplier_id)
    return await portal.statement(ctx, chosen, event_id)


@router.get(
    "/events/{event_id}/statement.csv",
    summary="The same statement as CSV (UTF-8, for a spreadsheet)",
    response_class=Response,
    responses={**DOC["responses"], 200: {"content": {"text/csv": {}}}},
    openapi_extra=DOC["openapi_extra"],
)
async def statement_csv(
    event_id: Id, supplier_id: SupplierId = None, who: Principal = SupplierPortal, ctx: Context = Ctx
) -> Response:
    chosen = await portal.whose(ctx, who.role, who.user_id, supplier_id)
    found = await portal.statement(ctx, chosen, event_id)
    return csv_answer(found)


def csv_answer(found: portal.Statement) -> Response:
    name = f"statement-supplier{found.supplier_id}-event{found.event_id}.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "private, no-store"}
    return Response(portal.statement_csv(found), media_type="text/csv; charset=utf-8", headers=headers)
