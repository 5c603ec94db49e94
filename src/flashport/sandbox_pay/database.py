"""The sandbox provider's SQLite file: the HTTP handlers and the notification sender take turns for it."""

from __future__ import annotations

from pathlib import Path

from flashport.sandbox_pay.tables import metadata
from flashport.sandbox_support.sqlite import SandboxSqlite


class SandboxDatabase(SandboxSqlite):
    def __init__(self, file: Path) -> None:
        super().__init__(file, metadata, "the sandbox")
