"""Enrolling a partner system that runs beside the platform (the demo's and the benchmark's sandbox
carrier): the partner registered once by name, and a fresh key for the system to follow its feed."""

from __future__ import annotations

from flashport.domain.partners import Partner, PartnerKind
from flashport.services.context import Context
from flashport.services.partners import keys, registry


async def enrol(
    ctx: Context,
    *,
    name: str,
    kind: PartnerKind,
    logistics_code: str | None = None,
    pay_code: str | None = None,
) -> tuple[Partner, str]:
    """The partner of this name (registered now if there is none) and a new API key for it; keys
    issued before stay valid until revoked."""
    existing = [p for p in await registry.list_all(ctx) if p.name == name]
    partner = (
        existing[0]
        if existing
        else await registry.register(
            ctx, name=name, kind=kind, logistics_code=logistics_code, pay_code=pay_code
        )
    )
    issued = await keys.issue(ctx, partner.id, "feed consumer")
    return partner, issued.key
