"""Accounts and roles."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from flashport.domain.errors import FieldProblem, Forbidden, InvalidInput

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


class Role(enum.StrEnum):
    BUYER = "buyer"
    OPERATOR = "operator"
    SUPPLIER = "supplier"


@dataclass(frozen=True)
class Principal:
    """Who is calling: taken from a verified token, never from the request body."""

    user_id: int
    role: Role
    supplier_id: int | None = None

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this action needs the role {allowed}", code="forbidden_role")

    def require_supplier_scope(self, supplier_id: int) -> None:
        """Operators may act for any supplier; a supplier user only for its own."""
        if self.role is Role.OPERATOR:
            return
        if self.role is Role.SUPPLIER and self.supplier_id == supplier_id:
            return
        raise Forbidden("you may only manage your own supplier's catalog", code="not_your_supplier")


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if not EMAIL.match(value) or len(value) > 320:
        raise InvalidInput(
            "email address is not valid",
            code="invalid_email",
            details=[FieldProblem("email", "expected an address like name@example.com")],
        )
    return value


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD or len(password) > 1024:
        raise InvalidInput(
            f"password must have {MIN_PASSWORD} to 1024 characters",
            code="weak_password",
            details=[FieldProblem("password", f"at least {MIN_PASSWORD} characters")],
        )
