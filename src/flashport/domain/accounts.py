"""Accounts and roles."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from flashport.domain.errors import FieldProblem, Forbidden, InvalidInput
from flashport.domain.text import forbidden_character

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10  # with the common-password list below, as NIST SP 800-63B asks (8 is its floor)
MAX_PASSWORD = 1024


class Role(enum.StrEnum):
    BUYER = "buyer"
    OPERATOR = "operator"  # everything
    SUPPLIER = "supplier"
    MERCHANDISER = "merchandiser"  # the catalog, the sale calendar and the live sale; no refunds
    CUSTOMER_SERVICE = "customer_service"  # orders, payments and refunds; no catalog


# Staff who manage every supplier's catalog (a supplier user manages only its own).
CATALOG_STAFF = frozenset({Role.OPERATOR, Role.MERCHANDISER})


@dataclass(frozen=True)
class Principal:
    """Who is calling: taken from a verified token, never from the request body."""

    user_id: int
    role: Role
    supplier_id: int | None = None
    session_version: int = 0  # the user's session version when the token was issued (tokens.py)

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this action needs the role {allowed}", code="forbidden_role")

    def require_supplier_scope(self, supplier_id: int) -> None:
        """Operators and merchandisers may act for any supplier; a supplier user only for its own."""
        if self.role in CATALOG_STAFF:
            return
        if self.role is Role.SUPPLIER and self.supplier_id == supplier_id:
            return
        raise Forbidden("you may only manage your own supplier's catalog", code="not_your_supplier")


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if not EMAIL.match(value) or len(value) > 320 or forbidden_character(value) is not None:
        raise InvalidInput(
            "email address is not valid",
            code="invalid_email",
            details=[FieldProblem("email", "expected an address like name@example.com")],
        )
    return value


def check_password_strength(password: str, email: str = "") -> None:
    """The password policy: 10 to 1024 characters not counting surrounding spaces, not the e-mail
    address (nor its name part), not one of the most common passwords (``common_passwords.txt``)."""
    meaningful = password.strip()
    if len(meaningful) < MIN_PASSWORD or len(password) > MAX_PASSWORD:
        raise _weak(f"password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters", "too short or long")
    folded = meaningful.casefold()
    address = email.strip().casefold()
    if address and folded in (address, address.partition("@")[0]):
        raise _weak("password must not be your e-mail address", "equal to the e-mail address")
    # A common password with digits or symbols tacked on ("password-1", "qwerty123!") is as easily guessed.
    stem = folded.rstrip(_DECORATION)
    if folded in common_passwords() or stem in common_passwords() or len(set(folded)) <= 2:
        raise _weak("this password is too common: choose another", "a common password")


_DECORATION = "0123456789!@#$%^&*()-_=+.,?~ "


def _weak(message: str, why: str) -> InvalidInput:
    return InvalidInput(message, code="weak_password", details=[FieldProblem("password", why)])


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list (source and licence in its header), case-folded."""
    text = resources.files("flashport.domain").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_account_name(name: str) -> str:
    """A person's or team's display name: 1 to 200 characters on one line, no control characters."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 200 or forbidden_character(cleaned) is not None:
        raise InvalidInput(
            "name must have 1 to 200 characters and no control characters",
            code="invalid_name",
            details=[FieldProblem("name", "1 to 200 characters on one line")],
        )
    return cleaned
