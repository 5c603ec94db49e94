"""The sandbox carrier's SQLite file: the HTTP handlers and the CEB511 resender take turns for it."""

from __future__ import annotations

from pathlib import Path

from flashport.sandbox_logistics.tables import metadata
from flashport.sandbox_support.sqlite import SandboxSqlite


class LogisticsDatabase(SandboxSqlite):
    def __init__(self, file: Path) -> None:
        super().__init__(file, metadata, "the sandbox carrier")
