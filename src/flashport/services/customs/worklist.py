"""The operator's worklist: declarations that cannot go on by themselves. Customs' verdicts put some
there as receipts arrive (detained, returned, a processing error: see ``receipts``); this sweep adds
pending declarations whose sending kept failing, so none is retried forever unseen. Each is logged at
error level once, when it is flagged; it stays listed (and keeps being retried at its back-off) until
an operator re-declares it."""

from __future__ import annotations

import logging

from flashport.adapters.db import stages_repo
from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.services.context import Context

log = logging.getLogger(__name__)

# Failed sending attempts after which a pending declaration needs a person. With the declaring
# back-off this is tens of minutes of failures, far beyond a partner's blip.
ATTENTION_AFTER_ATTEMPTS = 5
BATCH = 500


async def flag_stuck(ctx: Context, *, min_attempts: int = ATTENTION_AFTER_ATTEMPTS) -> int:
    """Flag pending declarations that failed ``min_attempts`` times; returns how many this call
    flagged."""
    async with ctx.transaction() as tx:
        stuck = await stages_repo.flag_stuck_pending(tx.conn, min_attempts, tx.now, BATCH)
        await tx.emit_many(
            [
                (
                    "declaration.needs_attention",
                    f"order:{s.order_no}",
                    {"order_no": s.order_no, "attempts": s.attempts, "last_error": _masked(s.last_error)},
                )
                for s in stuck
            ]
        )
    for s in stuck:
        log.error(
            "declaration %s (order %s) needs an operator: sending failed %d times, last: %s",
            s.id,
            s.order_no,
            s.attempts,
            _masked(s.last_error),
        )
    return len(stuck)


def _masked(error: str | None) -> str | None:
    return None if error is None else mask_id_numbers_in(error)
