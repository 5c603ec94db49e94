"""The storefront's checkout and identity forms: what was typed, checked field by field, and the refusals
of the services turned into words next to the fields they concern.

Nothing here keeps an ID number: a form that comes back with errors has the number field empty, and
the domain's messages never repeat the number (they are logged and shown).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from starlette.datastructures import FormData

from flashport.domain.errors import DomainError, FieldProblem, InvalidInput
from flashport.domain.identity import check_consignee, normalise_id_number, normalise_person_name
from flashport.web.answers import sentence
from flashport.web.formatting import yuan

NEW_IDENTITY = "new"

# What each field is called on the page: beside the field, and in the summary above the form.
FIELD_LABELS = {
    "identity_id": "Who is buying",
    "identity_name": "Full name, as on the ID card",
    "identity_number": "Resident ID number",
    "identity_phone": "Buyer's own phone",
    "consignee_name": "Recipient's name",
    "consignee_phone": "Mobile number",
    "consignee_address": "Delivery address",
    "consignee_district": "District code",
}
# The identity service names its fields after the person; the forms after the identity being added.
_RENAMED = {"name": "identity_name", "id_number": "identity_number", "phone": "identity_phone"}
# Longest value kept from a form field: the API's limits, so nothing larger reaches a service.
_MAX = {
    "identity_name": 100,
    "identity_phone": 32,
    "consignee_name": 100,
    "consignee_phone": 32,
    "consignee_address": 400,
}


@dataclass(frozen=True)
class Problem:
    """A refusal that is about the whole order rather than one field."""

    title: str
    text: str


@dataclass(frozen=True)
class Refusal:
    errors: dict[str, str]
    problem: Problem | None


@dataclass(frozen=True)
class CheckoutValues:
    """What the checkout form shows: as typed, apart from the ID number, which is never shown again."""

    identity_id: str = ""
    identity_name: str = ""
    identity_phone: str = ""  # optional: customs is told the buyer's own phone (buyerTelephone)
    consignee_name: str = ""
    consignee_phone: str = ""
    consignee_address: str = ""
    consignee_district: str = ""

    @classmethod
    def from_form(cls, form: FormData) -> CheckoutValues:
        def text(name: str, longest: int = 12) -> str:
            value = form.get(name, "")
            return value.strip()[: _MAX.get(name, longest)] if isinstance(value, str) else ""

        return cls(
            identity_id=text("identity_id"),
            identity_name=text("identity_name"),
            identity_phone=text("identity_phone"),
            consignee_name=text("consignee_name"),
            consignee_phone=text("consignee_phone"),
            consignee_address=text("consignee_address"),
            consignee_district=text("consignee_district"),
        )

    @property
    def adds_identity(self) -> bool:
        return self.identity_id == NEW_IDENTITY


def id_number_from(form: FormData) -> str:
    value = form.get("identity_number", "")
    return value[:40] if isinstance(value, str) else ""


def chosen_identity(values: CheckoutValues) -> int:
    """The id of the identity picked in the list (not "add a new one")."""
    found = _listed_identity(values)
    if found is None:
        raise InvalidInput("choose who is buying", code="identity_required", details=[_CHOOSE])
    return found


def _listed_identity(values: CheckoutValues) -> int | None:
    digits = values.identity_id
    return int(digits) if digits.isdigit() and len(digits) <= 18 else None


_CHOOSE = FieldProblem("identity_id", "choose who is buying, or add a new identity")


def checkout_problems(values: CheckoutValues, id_number: str, today: date) -> list[FieldProblem]:
    """Every mistake of a checkout form, found before anything is stored."""
    if values.adds_identity:
        first = identity_problems(values.identity_name, id_number, today)
    else:
        first = [] if _listed_identity(values) is not None else [_CHOOSE]
    return first + consignee_problems(values)


def identity_problems(name: str, id_number: str, today: date) -> list[FieldProblem]:
    """The name and the number checked separately, so the buyer sees both mistakes at once."""
    return _collect(
        lambda: normalise_person_name(name, field="identity_name"),
        lambda: normalise_id_number(id_number, today, field="identity_number"),
    )


# Stand-ins that pass every consignee check: each field is then checked alone, so all mistakes
# show at once (the domain's check stops at the first).
_VALID_CONSIGNEE = {
    "consignee_name": "李娜",
    "consignee_phone": "13800138000",
    "consignee_address": "-",
    "consignee_district": "",
}


def consignee_problems(values: CheckoutValues) -> list[FieldProblem]:
    def one(field: str) -> Callable[[], object]:
        trial = {**_VALID_CONSIGNEE, field: getattr(values, field)}
        return lambda: check_consignee(
            trial["consignee_name"],
            trial["consignee_phone"],
            trial["consignee_address"],
            trial["consignee_district"] or None,
        )

    return _collect(*(one(field) for field in _VALID_CONSIGNEE))


def _collect(*checks: Callable[[], object]) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    for check in checks:
        try:
            check()
        except InvalidInput as exc:
            found.extend(exc.details)
    return found


def refuse_if(problems: list[FieldProblem]) -> None:
    if problems:
        raise InvalidInput("please check the highlighted fields", code="invalid_form", details=problems)


def explain(exc: DomainError) -> Refusal:
    """A service's refusal in the words of the page: beside a field when it is about one, otherwise
    as a problem stated above the form."""
    special = _SPECIAL.get(exc.code)
    if special is not None:
        return special(exc)
    if isinstance(exc, InvalidInput) and exc.details:
        errors: dict[str, str] = {}
        for detail in exc.details:
            errors.setdefault(_RENAMED.get(detail.field, detail.field), sentence(detail.message))
        if set(errors) <= set(FIELD_LABELS):
            return Refusal(errors, None)
    return Refusal({}, Problem("Checkout could not be completed", in_yuan(sentence(exc.message))))


def in_yuan(text: str) -> str:
    """The services write amounts as ``5000.00 CNY``; the pages as ``¥5,000.00``."""
    return re.sub(r"(-?\d+\.\d\d) CNY", lambda found: yuan(found.group(1)), text)


def _over_order_limit(exc: DomainError) -> Refusal:
    text = in_yuan(sentence(exc.message)) + " Cancel this order and buy fewer units in each order."
    return Refusal({}, Problem("This order is over the cross-border limit for one order", text))


def _over_year_limit(exc: DomainError) -> Refusal:
    text = in_yuan(sentence(exc.message)) + " Choose another buyer below, or buy less."
    return Refusal({}, Problem("This would pass the buyer's yearly cross-border limit", text))


def _payment_started(exc: DomainError) -> Refusal:
    text = "Payment of this order has already started, so its buyer, address and amount are final."
    return Refusal({}, Problem("Checkout can no longer change", text))


def _window_closed(exc: DomainError) -> Refusal:
    text = "The time to pay this order ran out, so its units went back on sale."
    return Refusal({}, Problem("The payment window has closed", text))


def _not_payable(exc: DomainError) -> Refusal:
    return Refusal({}, Problem("This order can no longer be checked out", sentence(exc.message)))


def _already_added(exc: DomainError) -> Refusal:
    text = "This ID number is already one of your identities: choose it in the list instead."
    return Refusal({"identity_number": text}, None)


def _identity_gone(exc: DomainError) -> Refusal:
    text = "That identity no longer exists: choose another, or add it again."
    return Refusal({"identity_id": text}, None)


_SPECIAL: dict[str, Callable[[DomainError], Refusal]] = {
    "single_transaction_limit": _over_order_limit,
    "annual_limit_exceeded": _over_year_limit,
    "checkout_after_payment": _payment_started,
    "payment_window_closed": _window_closed,
    "order_not_payable": _not_payable,
    "identity_already_added": _already_added,
    "identity_not_found": _identity_gone,
}
