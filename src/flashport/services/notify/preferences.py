"""A buyer's notification preferences: language, mobile number for SMS, and the kinds turned off."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flashport.adapters.db import notify_repo
from flashport.domain.errors import FieldProblem, InvalidInput
from flashport.domain.notifications import LANGUAGES, Kind, Preferences
from flashport.services.context import Context

# A mainland mobile number (11 digits from 1), optionally written with +86.
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


async def of_buyer(ctx: Context, buyer_id: int) -> Preferences:
    async with ctx.read() as conn:
        return (await notify_repo.preferences(conn, [buyer_id]))[buyer_id]


def _valid(language: str, mobile: str | None, muted: Iterable[str]) -> Preferences:
    problems = []
    if language not in LANGUAGES:
        problems.append(FieldProblem("language", f"one of {', '.join(LANGUAGES)}"))
    number = None
    if mobile and mobile.strip():
        match = _MOBILE.match(re.sub(r"[\s-]", "", mobile))
        if match is None:
            problems.append(FieldProblem("mobile", "a mainland China mobile number, 11 digits from 1"))
        else:
            number = match.group(1)
    known = {k.value: k for k in Kind}
    kinds = set()
    for name in muted:
        if name not in known:
            problems.append(FieldProblem("muted", f"unknown kind {name!r}; kinds: {', '.join(known)}"))
        else:
            kinds.add(known[name])
    if problems:
        raise InvalidInput(
            "these notification preferences cannot be saved", code="invalid_preferences", details=problems
        )
    return Preferences(language, number, frozenset(kinds))


async def save(
    ctx: Context, buyer_id: int, language: str, mobile: str | None, muted: Iterable[str]
) -> Preferences:
    """Replace the buyer's preferences; 422 ``invalid_preferences`` naming each bad field."""
    prefs = _valid(language, mobile, muted)
    async with ctx.transaction() as tx:
        await notify_repo.save_preferences(tx.conn, buyer_id, prefs, tx.now)
    return prefs
