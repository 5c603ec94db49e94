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

from flashport.domain.addresses import check_address, check_district
from flashport.domain.errors import DomainError, FieldProblem, InvalidInput
from flashport.domain.identity import check_consignee, normalise_id_number, normalise_person_name
from flashport.web import messages
from flashport.web.formatting import yuan
from flashport.web.i18n import N_, Language, gettext_for

NEW_IDENTITY = "new"
NEW_ADDRESS = "new"

# What each field is called on the page: beside the field, and in the summary above the form.
FIELD_LABELS = {
    "identity_id": N_("Who is buying"),
    "identity_name": N_("Full name, as on the ID card"),
    "identity_number": N_("Resident ID number"),
    "identity_phone": N_("Buyer's own phone"),
    "address_id": N_("Delivery address"),
    "consignee_name": N_("Recipient's name"),
    "consignee_phone": N_("Mobile number"),
    "consignee_province": N_("Province"),
    "consignee_city": N_("City"),
    "consignee_district": N_("District"),
    "consignee_address": N_("Street and number"),
}
# The operator's consignee correction: the whole address and the code are typed there.
CORRECTION_LABELS = {
    **FIELD_LABELS,
    "consignee_address": N_("Delivery address"),
    "consignee_district": N_("District code"),
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
class CodedProblem(FieldProblem):
    """A field's problem with the code of the check that found it, so the page can say it in words of
    its own language."""

    code: str = ""


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
    consignee_address: str = ""  # on the storefront's checkout: the street (the place comes from the lists)
    consignee_district: str = ""
    # The storefront's address choice: a saved address's id, or NEW_ADDRESS with the lists and street.
    address_id: str = ""
    consignee_province: str = ""
    consignee_city: str = ""
    save_address: bool = False

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
            address_id=text("address_id"),
            consignee_province=text("consignee_province"),
            consignee_city=text("consignee_city"),
            save_address=form.get("save_address") == "1",
        )

    @property
    def adds_identity(self) -> bool:
        return self.identity_id == NEW_IDENTITY

    @property
    def adds_address(self) -> bool:
        """A new address typed in (also when the buyer has none saved and the form has no choice)."""
        return self.address_id in ("", NEW_ADDRESS)

    @property
    def saved_address(self) -> int | None:
        digits = self.address_id
        return int(digits) if digits.isdigit() and len(digits) <= 18 else None


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


_CHOOSE = CodedProblem("identity_id", "choose who is buying, or add a new identity", "identity_required")


def checkout_problems(values: CheckoutValues, id_number: str, today: date) -> list[FieldProblem]:
    """Every mistake of a checkout form, found before anything is stored."""
    if values.adds_identity:
        first = identity_problems(values.identity_name, id_number, today)
    else:
        first = [] if _listed_identity(values) is not None else [_CHOOSE]
    return first + address_problems(values)


def address_problems(values: CheckoutValues) -> list[FieldProblem]:
    """A saved address is checked when it is read; a new one here: the district from the lists (the
    province and city only lead to it), then the recipient, phone and street."""
    if not values.adds_address:
        return [] if values.saved_address is not None else [_CHOOSE_ADDRESS]
    district = _collect(lambda: check_district(values.consignee_district))
    street = _collect(lambda: check_address("李娜", "13800138000", "110101", values.consignee_address or ""))
    person = [p for p in consignee_problems(values) if p.field in ("consignee_name", "consignee_phone")]
    return person + district + street


_CHOOSE_ADDRESS = CodedProblem("address_id", "choose a saved address or enter a new one", "address_required")


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
            found.extend(CodedProblem(detail.field, detail.message, exc.code) for detail in exc.details)
    return found


def refuse_if(problems: list[FieldProblem]) -> None:
    if problems:
        raise InvalidInput("please check the highlighted fields", code="invalid_form", details=problems)


def explain(exc: DomainError, language: Language) -> Refusal:
    """A service's refusal in the words of the page and the reader's language: beside a field when it
    is about one, otherwise as a problem stated above the form."""
    special = _SPECIAL.get(exc.code)
    if special is not None:
        title, field = special
        text = messages.error_text(language, exc)
        text = f"{text} {_amounts(exc, language)}".strip()
        if field is not None:
            return Refusal({field: text}, None)
        return Refusal({}, Problem(gettext_for(language, title), text))
    if isinstance(exc, InvalidInput) and exc.details:
        errors: dict[str, str] = {}
        for detail in exc.details:
            code = detail.code if isinstance(detail, CodedProblem) else exc.code
            text = messages.problem_text(language, code, detail)
            errors.setdefault(_RENAMED.get(detail.field, detail.field), text)
        if set(errors) <= set(FIELD_LABELS):
            return Refusal(errors, None)
    title = gettext_for(language, N_("Checkout could not be completed"))
    return Refusal({}, Problem(title, messages.error_text(language, exc)))


_AMOUNT = re.compile(r"(-?\d+\.\d\d) CNY")
# The figures of a limit refusal, in the order the service writes them.
_FIGURES = {
    "single_transaction_limit": N_("Limit per order: %(first)s; this order: %(second)s."),
    "annual_limit_exceeded": N_(
        "This order: %(first)s; yearly limit: %(second)s; left this year: %(third)s."
    ),
}


def _amounts(exc: DomainError, language: Language) -> str:
    """The limit and the amounts of a limit refusal (as the service computed them), or nothing."""
    template = _FIGURES.get(exc.code)
    found = [yuan(amount) for amount in _AMOUNT.findall(exc.message)]
    if template is None or len(found) != template.count("%("):
        return ""
    return gettext_for(language, template) % dict(zip(("first", "second", "third"), found, strict=False))


def in_yuan(text: str) -> str:
    """The services write amounts as ``5000.00 CNY``; the pages as ``¥5,000.00``."""
    return re.sub(r"(-?\d+\.\d\d) CNY", lambda found: yuan(found.group(1)), text)


def field_labels(language: Language) -> dict[str, str]:
    return {name: gettext_for(language, label) for name, label in FIELD_LABELS.items()}


# Refusals about the whole order (a title above the form) or about one field (None: no title).
_SPECIAL: dict[str, tuple[str, str | None]] = {
    "single_transaction_limit": (N_("This order is over the cross-border limit for one order"), None),
    "annual_limit_exceeded": (N_("This would pass the buyer's yearly cross-border limit"), None),
    "checkout_after_payment": (N_("Checkout can no longer change"), None),
    "payment_window_closed": (N_("The payment window has closed"), None),
    "order_not_payable": (N_("This order can no longer be checked out"), None),
    "identity_already_added": ("", "identity_number"),
    "identity_not_found": ("", "identity_id"),
    "address_not_found": ("", "address_id"),
    "address_limit": ("", "address_id"),
}
