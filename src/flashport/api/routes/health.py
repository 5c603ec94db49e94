from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import text

from flashport.api.deps import get_ctx, public_doc
from flashport.services.context import Context

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability", **public_doc(503))
async def healthz(ctx: Context = Depends(get_ctx)) -> dict[str, str]:
    async with ctx.read() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get(
    "/livez", summary="Process is up (touches nothing: the load generator's yardstick)", **public_doc()
)
async def livez() -> dict[str, str]:
    return {"status": "ok"}
