"""Who does what: the duties of the back office and the roles that hold each one.

This table is the one place that says which role may use which part of the console and the API. Every
API operation names its duty (``api/deps.py`` ``duty_doc`` and ``staff``), which states the roles in
OpenAPI (``x-roles`` and the description) and enforces them; every console page names its duty
(``web/console_guard.py``). A test walks every page and operation with every role against this table.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from flashport.domain.accounts import Role


class Duty(enum.StrEnum):
    PLATFORM = "platform"  # accounts, partners, tax rules, the positive list, the outbox, tax withheld
    CATALOG = "catalog"  # brands, suppliers, warehouses, products, SKUs, stock
    EVENTS = "events"  # the sale calendar: events, their items and allotments
    LIVE_SALE = "live_sale"  # the live board and its controls (pause, resume, top up, end early)
    ORDERS = "orders"  # find an order, read its whole story, the payments and refunds lists
    REFUNDS = "refunds"  # give money back
    CUSTOMS = "customs"  # the declarations, their messages, a corrected re-declaration
    AUDIT = "audit"  # the log of staff actions
    OWN_CATALOG = "own_catalog"  # a supplier's products and stock (staff: every supplier's)
    OWN_SALES = "own_sales"  # the supplier portal: sales of its own goods and its settlements
    OWN_ACCOUNT = "own_account"  # one's own account: who am I, log out, change password


_STAFF = {Role.OPERATOR, Role.MERCHANDISER, Role.CUSTOMER_SERVICE}

DUTIES: Mapping[Duty, frozenset[Role]] = {
    Duty.PLATFORM: frozenset({Role.OPERATOR}),
    Duty.CATALOG: frozenset({Role.OPERATOR, Role.MERCHANDISER}),
    Duty.EVENTS: frozenset({Role.OPERATOR, Role.MERCHANDISER}),
    Duty.LIVE_SALE: frozenset({Role.OPERATOR, Role.MERCHANDISER}),
    Duty.ORDERS: frozenset({Role.OPERATOR, Role.CUSTOMER_SERVICE}),
    Duty.REFUNDS: frozenset({Role.OPERATOR, Role.CUSTOMER_SERVICE}),
    Duty.CUSTOMS: frozenset({Role.OPERATOR, Role.CUSTOMER_SERVICE}),
    Duty.AUDIT: frozenset({Role.OPERATOR}),
    Duty.OWN_CATALOG: frozenset({Role.OPERATOR, Role.MERCHANDISER, Role.SUPPLIER}),
    Duty.OWN_SALES: frozenset({Role.SUPPLIER, Role.OPERATOR}),
    Duty.OWN_ACCOUNT: frozenset(Role),
}

# The order roles are listed in (OpenAPI, error messages): stable, most powerful first.
ROLE_ORDER = (Role.OPERATOR, Role.MERCHANDISER, Role.CUSTOMER_SERVICE, Role.SUPPLIER, Role.BUYER)


def roles_for(duty: Duty) -> tuple[Role, ...]:
    return tuple(role for role in ROLE_ORDER if role in DUTIES[duty])


def may(role: Role | str | None, duty: Duty) -> bool:
    return role is not None and role in DUTIES[duty]


def is_staff(role: Role | str | None) -> bool:
    return role is not None and role in _STAFF
