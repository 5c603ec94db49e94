"""A buyer's notification preferences: language, mobile number for SMS, and the kinds turned off.

The language of the messages follows the storefront's: it is set from the page's language at
registration (:func:`flashport.services.accounts.users.sign_up`), taken from it at the first log-in of a
buyer who never chose (:func:`adopt_page_language`), and changed whenever a logged-in buyer uses the
language switch (:func:`follow_page_language`). The preferences page sets it explicitly; the latest
choice wins."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flashport.adapters.db import notify_repo
from flashport.domain.errors import FieldProblem, InvalidInput
from flashport.domain.notifications import LANGUAGES, MUTABLE_KINDS, Preferences
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
    known = {k.value: k for k in MUTABLE_KINDS}
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


async def follow_page_language(ctx: Context, buyer_id: int, language: str) -> bool:
    """The buyer switched the storefront to ``language``: their messages are in it from now on (the
    mobile number and the kinds turned off stay). False for a language messages are not written in."""
    if language not in LANGUAGES:
        return False
    async with ctx.transaction() as tx:
        await notify_repo.save_language(tx.conn, buyer_id, language, tx.now)
    return True


async def adopt_page_language(ctx: Context, buyer_id: int, language: str) -> bool:
    """At log-in: a buyer who never chose gets their messages in the language the page is in (their
    switch's remembered choice, else their browser's); one who chose keeps the choice. True when set."""
    if language not in LANGUAGES:
        return False
    async with ctx.transaction() as tx:
        return await notify_repo.save_language(tx.conn, buyer_id, language, tx.now, only_if_unset=True)
