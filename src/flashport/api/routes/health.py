from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from sqlalchemy import text

from flashport.api.deps import get_ctx, public_doc
from flashport.services import readiness
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


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


@router.get(
    "/readyz",
    summary="Ready to serve: the database and the stock engine answer (503 and which does not, if not)",
    response_model=Readiness,
    openapi_extra={"x-roles": ["public"]},
    responses={503: {"model": Readiness, "description": "A dependency does not answer"}},
)
async def readyz(response: Response, ctx: Context = Depends(get_ctx)) -> Readiness:
    checks = await readiness.check(ctx)
    ready = all(state == "ok" for state in checks.values())
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = "1"
    return Readiness(status="ready" if ready else "unavailable", checks=checks)
