"""Ending sessions: log-out, a password change and deactivation raise the user's session version, in
the database and in every API process's revocation list (adapters/session_revocations.py), so every
token and storefront cookie issued before stops working: on this process at once, on the others
within ``FLASHPORT_SESSION_POLL_SECONDS`` (at once with Redis). A log-out ends all of the user's
sessions, on every device: tokens carry the user's version, not a per-device id."""

from __future__ import annotations

from flashport.adapters.db import accounts_repo
from flashport.domain.accounts import Principal
from flashport.domain.errors import NotFound, Unauthenticated
from flashport.services.context import Context


async def end_sessions(ctx: Context, user_id: int) -> None:
    """Every session of the user ends (log-out)."""
    async with ctx.transaction() as tx:
        version = await accounts_repo.raise_session_version(tx.conn, user_id, tx.now)
    if version is not None:
        await ctx.sessions.publish(user_id, version)


async def set_active(ctx: Context, user_id: int, active: bool) -> None:
    """Deactivate (every session ends, log-in is refused) or reactivate an account."""
    async with ctx.transaction() as tx:
        if not await accounts_repo.set_active(tx.conn, user_id, active):
            raise NotFound(f"user {user_id} does not exist", code="user_not_found")
        version = await accounts_repo.raise_session_version(tx.conn, user_id, tx.now)
        await tx.emit("user.deactivated" if not active else "user.reactivated", f"user:{user_id}", {})
    if version is not None:
        await ctx.sessions.publish(user_id, version)


async def check_standing(ctx: Context, who: Principal) -> None:
    """Off the buy path: the token's user exists, is active and the token's session is open. The first
    request of a user in a process reads the user's row (first requests arriving together share one read:
    see ``RevocationList.standing``); later ones rely on the revocation list, which hears of every
    deactivation and log-out."""
    if ctx.sessions.knows(who.user_id):
        return
    standing = await ctx.sessions.standing(who.user_id)
    if standing is None or not standing[0]:
        raise Unauthenticated("this account does not exist or is deactivated", code="invalid_token")
    active_version = standing[1]
    ctx.sessions.apply(who.user_id, active_version)
    if who.session_version < active_version:
        raise Unauthenticated("this session has ended: log in again", code="invalid_token")
    ctx.sessions.remember(who.user_id)
