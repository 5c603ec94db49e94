"""The outbox: the record of state changes, read by operators (and later partners) with a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from flashport.api.deps import OperatorOnly, get_ctx, roles_doc
from flashport.domain.accounts import Principal, Role
from flashport.services import outbox
from flashport.services.context import Context

router = APIRouter(prefix="/api/v1", tags=["outbox"])


class OutboxRecordOut(BaseModel):
    id: int
    type: str
    subject: str
    occurred_at: datetime
    payload: dict[str, Any]


class OutboxPageOut(BaseModel):
    items: list[OutboxRecordOut]
    next_cursor: str | None
    has_more: bool


@router.get(
    "/outbox",
    response_model=OutboxPageOut,
    summary="Outbox records (state changes), oldest first, cursor-paginated",
    description="Pass `next_cursor` back as `after` to continue. An empty page keeps the same "
    "cursor, so a poller can call again later without missing a record.",
    **roles_doc(Role.OPERATOR, errors=(422,)),
)
async def read_outbox(
    after: str | None = Query(None, description="cursor from a previous page"),
    limit: int = Query(100, ge=1, le=1000),
    type: str | None = Query(None, description="only records of this type, e.g. order.paid"),
    subject: str | None = Query(None, description="only records about this subject, e.g. order:FP..."),
    _: Principal = OperatorOnly,
    ctx: Context = Depends(get_ctx),
) -> outbox.OutboxPage:
    async with ctx.read() as conn:
        return await outbox.page(conn, after=after, limit=limit, type_=type, subject=subject)
