"""The simulator's SQLite file. A message is filed, matched and answered in one IMMEDIATE transaction,
so concurrent messages of one order take turns and exactly one of them sees the last document arrive
and releases the declaration."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flashport.sandbox_customs.migration import mark_current, migrate
from flashport.sandbox_customs.sealing import Sealer
from flashport.sandbox_customs.tables import metadata
from flashport.sandbox_support.sqlite import SandboxSqlite


class SingleWindowDatabase(SandboxSqlite):
    def __init__(self, file: Path, sealer: Sealer) -> None:
        super().__init__(file, metadata, "the customs simulator", foreign_keys=False)
        self._record = file
        self._sealer = sealer

    async def start(self) -> None:
        """Migrate an older record first (:mod:`.migration`), then open and make what is missing."""
        await asyncio.to_thread(migrate, self._record, self._sealer)
        await super().start()
        await asyncio.to_thread(mark_current, self._record)
