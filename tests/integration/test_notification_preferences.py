"""A buyer's notification preferences and sale reminders over the API, with clear errors."""

from __future__ import annotations

from datetime import timedelta

import httpx

from flashport.services.context import Context
from tests.factories import auth
from tests.sale_builder import make_buyers, make_sale

PREFS = "/api/v1/me/notification-preferences"


async def test_preferences_default_to_chinese_and_everything_on(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    [(_, token)] = await make_buyers(ctx, 1)
    answer = (await client.get(PREFS, headers=auth(token))).json()
    assert answer["language"] == "zh-CN" and answer["mobile"] is None and answer["muted"] == []
    assert "refunded" in answer["kinds"] and "pay_soon" in answer["kinds"]


async def test_a_buyer_turns_kinds_off_and_sets_language_and_mobile(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    [(_, token)] = await make_buyers(ctx, 1)
    body = {"language": "en", "mobile": "+86 138 0013 8000", "muted": ["shipped", "paid"]}
    saved = await client.put(PREFS, json=body, headers=auth(token))
    assert saved.status_code == 200
    assert (await client.get(PREFS, headers=auth(token))).json() | {"kinds": []} == {
        "language": "en",
        "mobile": "13800138000",
        "muted": ["paid", "shipped"],
        "kinds": [],
    }


async def test_bad_preferences_are_refused_field_by_field(ctx: Context, client: httpx.AsyncClient) -> None:
    [(_, token)] = await make_buyers(ctx, 1)
    body = {"language": "fr", "mobile": "12345", "muted": ["spam"]}
    answer = await client.put(PREFS, json=body, headers=auth(token))
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_preferences"
    assert {d["field"] for d in answer.json()["details"]} == {"language", "mobile", "muted"}


async def test_a_reminder_is_for_a_sale_not_yet_open(ctx: Context, client: httpx.AsyncClient) -> None:
    upcoming = await make_sale(ctx, starts_in=timedelta(hours=3))
    live = await make_sale(ctx)
    [(_, token)] = await make_buyers(ctx, 1)
    ok = await client.post(f"/api/v1/sale-events/{upcoming.event_id}/reminder", headers=auth(token))
    assert ok.status_code == 200 and ok.json() == {"event_id": upcoming.event_id, "reminded": True}
    late = await client.post(f"/api/v1/sale-events/{live.event_id}/reminder", headers=auth(token))
    assert late.status_code == 409 and late.json()["code"] == "sale_already_open"
    missing = await client.post("/api/v1/sale-events/987654/reminder", headers=auth(token))
    assert missing.status_code == 404 and missing.json()["code"] == "sale_not_found"
