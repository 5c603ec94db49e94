"""Operators register partners and switch them off."""

from __future__ import annotations

from flashport.adapters.db import catalog_repo
from flashport.adapters.db import partners_repo as repo
from flashport.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from flashport.domain.partners import Partner, PartnerKind, check_link
from flashport.services.context import Context


async def register(
    ctx: Context,
    *,
    name: str,
    kind: PartnerKind,
    supplier_id: int | None = None,
    logistics_code: str | None = None,
    pay_code: str | None = None,
) -> Partner:
    check_link(kind, supplier_id, logistics_code, pay_code)
    async with ctx.transaction() as tx:
        if await repo.name_taken(tx.conn, name):
            raise Conflict("a partner of this name exists", code="partner_exists")
        if supplier_id is not None and await catalog_repo.find_supplier(tx.conn, supplier_id) is None:
            raise InvalidInput(
                "no such supplier", code="unknown_supplier", details=[FieldProblem("supplier_id", "unknown")]
            )
        partner = await repo.insert_partner(
            tx.conn,
            name=name,
            kind=kind,
            supplier_id=supplier_id,
            logistics_code=logistics_code,
            pay_code=pay_code,
            now=tx.now,
        )
        await tx.emit(
            "partner.registered", f"partner:{partner.id}", {"partner_id": partner.id, "kind": kind.value}
        )
    return partner


async def get(ctx: Context, partner_id: int) -> Partner:
    async with ctx.read() as conn:
        partner = await repo.get_partner(conn, partner_id)
    if partner is None:
        raise NotFound("no such partner", code="partner_not_found")
    return partner


async def list_all(ctx: Context) -> list[Partner]:
    async with ctx.read() as conn:
        return await repo.list_partners(conn)


async def set_active(ctx: Context, partner_id: int, active: bool) -> Partner:
    async with ctx.transaction() as tx:
        if not await repo.set_active(tx.conn, partner_id, active):
            raise NotFound("no such partner", code="partner_not_found")
        await tx.emit(
            "partner.enabled" if active else "partner.disabled",
            f"partner:{partner_id}",
            {"partner_id": partner_id},
        )
    return await get(ctx, partner_id)
