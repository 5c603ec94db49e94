"""Issue 16: a catalog or calendar change and its audit entry commit in one transaction. When that
transaction fails after the entry was written, neither the change nor the entry is kept; when it
commits, both are there with the same instant. (Before, the entry was written in a transaction of its
own after the change, so a failure there kept the change unaudited.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db import console_repo
from flashport.adapters.db.schema import brands, operator_audit, outbox, sale_events
from flashport.app import create_app
from flashport.domain.accounts import Principal, Role
from flashport.services.catalog import console
from flashport.services.context import Context
from flashport.services.sales import calendar
from tests.factories import make_user


class AuditWritten(Exception):
    """Raised just after the audit entry went in, failing the transaction that holds it."""


@pytest.fixture
def audit_then_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    real = console_repo.record

    async def record_then_fail(*args: Any, **kwargs: Any) -> None:
        await real(*args, **kwargs)
        raise AuditWritten

    monkeypatch.setattr(console_repo, "record", record_then_fail)


async def _count(ctx: Context, table: sa.Table) -> int:
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _window(ctx: Context) -> dict[str, Any]:
    start = ctx.clock() + timedelta(days=2)
    return {
        "title": "Alpine week",
        "channel": "global-flash-sale",
        "starts_at": start,
        "ends_at": start + timedelta(days=7),
    }


@pytest.mark.usefixtures("audit_then_fail")
async def test_a_change_whose_transaction_fails_after_its_audit_entry_keeps_neither(ctx: Context) -> None:
    staff_id, _ = await make_user(ctx, Role.MERCHANDISER)
    who = Principal(user_id=staff_id, role=Role.MERCHANDISER)
    outbox_before = await _count(ctx, outbox)
    with pytest.raises(AuditWritten):
        await calendar.create_event(ctx, staff_id, **_window(ctx))
    with pytest.raises(AuditWritten):
        await console.create_brand(ctx, who, name="Alpenmilch", country="DE")
    assert (await _count(ctx, sale_events), await _count(ctx, brands)) == (0, 0)
    assert (await _count(ctx, operator_audit), await _count(ctx, outbox)) == (0, outbox_before)


async def test_a_change_commits_with_its_audit_entry_at_the_same_instant(ctx: Context) -> None:
    staff_id, _ = await make_user(ctx, Role.MERCHANDISER)
    who = Principal(user_id=staff_id, role=Role.MERCHANDISER)
    event = await calendar.create_event(ctx, staff_id, **_window(ctx))
    brand = await console.create_brand(ctx, who, name="Alpenmilch", country="DE")
    async with ctx.read() as conn:
        entries = (await conn.execute(sa.select(operator_audit).order_by(operator_audit.c.id))).all()
    assert [(e.action, e.subject, e.operator_id) for e in entries] == [
        ("event.created", f"event:{event.id}", staff_id),
        ("brand.created", f"brand:{brand.id}", staff_id),
    ]
    assert (entries[0].at, entries[1].at) == (event.created_at, brand.created_at)
    assert entries[1].details["name"] == "Alpenmilch"


async def test_the_events_and_catalog_apis_audit_staff_commands_and_a_refusal_records_nothing(
    ctx: Context,
) -> None:
    staff_id, token = await make_user(ctx, Role.MERCHANDISER)
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    bearer = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=bearer) as api:
        window = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in _window(ctx).items()}
        late = {**window, "preheat_at": window["ends_at"]}
        refused = await api.post("/api/v1/events", json=late)
        assert (refused.status_code, refused.json()["code"]) == (422, "preheat_not_before_start")
        created = await api.post("/api/v1/events", json=window)
        assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        renamed = await api.patch(f"/api/v1/events/{event_id}", json={"title": "Alpine fortnight"})
        assert renamed.status_code == 200
        brand = await api.post("/api/v1/brands", json={"name": "Alpenmilch", "country": "DE"})
        assert brand.status_code == 201, brand.text
        taken = await api.post("/api/v1/brands", json={"name": "Alpenmilch", "country": "DE"})
        assert taken.status_code == 409
    async with ctx.read() as conn:
        entries = (await conn.execute(sa.select(operator_audit).order_by(operator_audit.c.id))).all()
    assert [(e.action, e.subject, e.operator_id) for e in entries] == [
        ("event.created", f"event:{event_id}", staff_id),
        ("event.updated", f"event:{event_id}", staff_id),
        ("brand.created", f"brand:{brand.json()['id']}", staff_id),
    ]
    assert entries[1].details["fields"] == ["title"]
