"""The supplier portal's pages: its products and stock with the sales of its goods per event, one
event's settlement statement, and that statement as CSV. A supplier user sees its own supplier only;
an operator adds ``?supplier=ID``. Read only, so no forms and no CSRF here."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.access import Duty
from flashport.domain.errors import InvalidInput
from flashport.services.suppliers import portal
from flashport.web import answers
from flashport.web.console_guard import staff_only
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.session import WebSession
from flashport.web.state import service_context

router = APIRouter(prefix="/supplier", route_class=WebRoute, include_in_schema=False)


async def _supplier(request: Request, session: WebSession, supplier: str) -> int:
    user_id = staff_only(session, Duty.OWN_SALES)
    requested = None
    if supplier:
        if not (supplier.isascii() and supplier.isdigit()) or len(supplier) > 18:
            raise InvalidInput("the supplier is a whole number", code="invalid_supplier")
        requested = int(supplier)
    return await portal.whose(service_context(request), session.role or "", user_id, requested)


@router.get("")
async def overview(request: Request, supplier: str = "") -> Response:
    session = answers.load_session(request)
    supplier_id = await _supplier(request, session, supplier)
    ctx = service_context(request)
    return answers.page(
        request,
        session,
        "supplier_portal.html",
        supplier_id=supplier_id,
        supplier_name=await portal.supplier_name(ctx, supplier_id),
        stock=await portal.stock(ctx, supplier_id),
        sales=await portal.sales_by_event(ctx, supplier_id),
        query=f"?supplier={supplier_id}" if supplier else "",
    )


@router.get("/events/{event_id}")
async def statement_page(request: Request, event_id: Id, supplier: str = "") -> Response:
    session = answers.load_session(request)
    supplier_id = await _supplier(request, session, supplier)
    found = await portal.statement(service_context(request), supplier_id, event_id)
    query = f"?supplier={supplier_id}" if supplier else ""
    return answers.page(request, session, "supplier_statement.html", statement=found, query=query)


@router.get("/events/{event_id}/statement.csv")
async def statement_csv(request: Request, event_id: Id, supplier: str = "") -> Response:
    session = answers.load_session(request)
    supplier_id = await _supplier(request, session, supplier)
    found = await portal.statement(service_context(request), supplier_id, event_id)
    name = f"statement-supplier{found.supplier_id}-event{found.event_id}.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "private, no-store"}
    return Response(portal.statement_csv(found), media_type="text/csv; charset=utf-8", headers=headers)
