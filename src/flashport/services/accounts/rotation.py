"""The end of an identity-key rotation: every sealed value (ID numbers, payers' numbers, customs
messages) re-sealed under the current key, so the previous keys can then be dropped from
``FLASHPORT_PREVIOUS_IDENTITY_KEYS``. Safe to run while the platform serves and to run again: a value
already under the current key is sealed anew, and each batch is its own transaction."""

from __future__ import annotations

from flashport.adapters.db import sealed_repo
from flashport.services.context import Context

BATCH = 500


async def reseal_everything(ctx: Context) -> dict[str, int]:
    """How many values of each ``table.column`` were re-sealed."""
    counts: dict[str, int] = {}
    for table, column in sealed_repo.SEALED_COLUMNS:
        done, after = 0, None
        while True:
            async with ctx.transaction() as tx:
                last, count = await sealed_repo.reseal_batch(
                    tx.conn, table, column, after, BATCH, ctx.vault.reseal
                )
            if last is None:
                break
            after, done = last, done + count
        counts[f"{table.name}.{column}"] = done
    return counts
