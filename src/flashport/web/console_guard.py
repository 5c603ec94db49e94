"""Who may open which console page: each page names its duty, and the access table
(domain/access.py) says which roles hold it. A visitor is sent to log in (401 → the log-in page);
anyone without the duty gets the 403 page.

``CONSOLE_SECTIONS`` is the console's navigation: each section with its duty, so a person sees only the
sections they may open."""

from __future__ import annotations

from dataclasses import dataclass

from flashport.domain.access import Duty, may, roles_for
from flashport.domain.errors import Forbidden
from flashport.web import guard
from flashport.web.i18n import N_
from flashport.web.session import WebSession


@dataclass(frozen=True, slots=True)
class Section:
    path: str
    label: str
    duty: Duty


CONSOLE_SECTIONS = (
    Section("/operator/catalog", N_("Catalog"), Duty.CATALOG),
    Section("/operator/calendar", N_("Sale calendar"), Duty.EVENTS),
    Section("/operator/board", N_("Live board"), Duty.LIVE_SALE),
    Section("/operator/orders", N_("Orders"), Duty.ORDERS),
    Section("/operator/payments", N_("Payments"), Duty.ORDERS),
    Section("/operator/refunds", N_("Refunds"), Duty.ORDERS),
    Section("/operator/declarations", N_("Declarations"), Duty.CUSTOMS),
    Section("/operator/audit", N_("Audit log"), Duty.AUDIT),
)


# Every console and supplier-portal page with the duty it needs (its handler calls ``staff_only`` with the
# same duty; tests/integration/test_roles.py walks each page with each role against this table).
PAGES: dict[str, Duty | None] = {
    "/operator": None,  # the console's front page: anyone on the staff (domain/access.py is_staff)
    "/operator/board": Duty.LIVE_SALE,
    "/operator/board.json": Duty.LIVE_SALE,
    "/operator/board/{kind}/{ref:int}/{action}": Duty.LIVE_SALE,
    "/operator/audit": Duty.AUDIT,
    "/operator/declarations": Duty.CUSTOMS,
    "/operator/declarations/{order_no}": Duty.CUSTOMS,
    "/operator/declarations/{order_no}/messages/{message_id:int}": Duty.CUSTOMS,
    "/operator/declarations/{order_no}/redeclare": Duty.CUSTOMS,
    "/operator/orders": Duty.ORDERS,
    "/operator/orders/{order_no}": Duty.ORDERS,
    "/operator/orders/{order_no}/refund": Duty.REFUNDS,
    "/operator/payments": Duty.ORDERS,
    "/operator/refunds": Duty.ORDERS,
    "/operator/calendar": Duty.EVENTS,
    "/operator/events/new": Duty.EVENTS,
    "/operator/events": Duty.EVENTS,
    "/operator/events/check.json": Duty.EVENTS,
    "/operator/events/{event_id}": Duty.EVENTS,
    "/operator/events/{event_id}/items/check.json": Duty.EVENTS,
    "/operator/events/{event_id}/{action}": Duty.EVENTS,
    "/operator/catalog": Duty.CATALOG,
    "/operator/catalog/{kind}": Duty.CATALOG,
    "/operator/catalog/products/{product_id}": Duty.CATALOG,
    "/operator/catalog/products/{product_id}/{action}": Duty.CATALOG,
    "/supplier": Duty.OWN_SALES,
    "/supplier/events/{event_id}": Duty.OWN_SALES,
    "/supplier/events/{event_id}/statement.csv": Duty.OWN_SALES,
}


def staff_only(session: WebSession, duty: Duty) -> int:
    """The user id of a logged-in person holding ``duty``; otherwise 401 (log in) or 403."""
    user_id = guard.logged_in(session)
    if not may(session.role, duty):
        allowed = ", ".join(role.value.replace("_", " ") for role in roles_for(duty))
        raise Forbidden(
            f"this page is for {allowed}; you are logged in as {(session.role or '').replace('_', ' ')}",
            code="not_your_section",
            facts={"roles": [role.value for role in roles_for(duty)], "role": session.role or ""},
        )
    return user_id


def sections_for(role: str | None) -> list[Section]:
    return [section for section in CONSOLE_SECTIONS if may(role, section.duty)]
