"""Test data builders. Users are inserted directly (Argon2 is deliberately slow); their tokens are real."""

from __future__ import annotations

import uuid
from typing import Any

from flashport.adapters.db.schema import suppliers, users
from flashport.domain.accounts import Principal, Role
from flashport.services.accounts import issue_token
from flashport.services.context import Context


async def make_supplier(ctx: Context, name: str | None = None, country: str = "FR") -> int:
    async with ctx.transaction() as tx:
        supplier_id = await tx.conn.scalar(
            suppliers.insert()
            .values(name=name or f"Supplier {uuid.uuid4().hex[:8]}", country=country, created_at=tx.now)
            .returning(suppliers.c.id)
        )
    return int(supplier_id)


async def make_user(ctx: Context, role: Role, supplier_id: int | None = None) -> tuple[int, str]:
    """Return (user id, bearer token)."""
    async with ctx.transaction() as tx:
        user_id = await tx.conn.scalar(
            users.insert()
            .values(
                email=f"{role.value}-{uuid.uuid4().hex[:10]}@example.com",
                password_hash="x",
                role=role.value,
                name=f"Test {role.value}",
                supplier_id=supplier_id,
                is_active=True,
                created_at=tx.now,
            )
            .returning(users.c.id)
        )
    return int(user_id), issue_token(ctx, Principal(int(user_id), role, supplier_id))


def auth(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}
