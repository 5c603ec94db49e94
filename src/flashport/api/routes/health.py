from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
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
    status: Literal["ready"]
    checks: dict[str, str]


@router.get(
    "/readyz",
    summary="Ready to serve: the database and the stock engine answer (503 and which does not, if not)",
    response_model=Readiness,
    **public_doc(503),
)
async def readyz(ctx: Context = Depends(get_ctx)) -> Readiness | JSONResponse:
    checks = await readiness.check(ctx)
    failing = [{"field": name, "message": state} for name, state in checks.items() if state != "ok"]
    if failing:
        body = {"code": "not_ready", "message": "a dependency does not answer", "details": failing}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    return Readiness(status="ready", checks=checks)
