"""The simulator's SQLite file. A message is filed, matched and answered in one IMMEDIATE transaction,
so concurrent messages of one order take turns and exactly one of them sees the last document arrive
and releases the declaration."""

from __future__ import annotations

from pathlib import Path

from flashport.sandbox_customs.tables import metadata
from flashport.sandbox_support.sqlite import SandboxSqlite


class SingleWindowDatabase(SandboxSqlite):
    def __init__(self, file: Path) -> None:
        super().__init__(file, metadata, "the customs simulator", foreign_keys=False)
