"""Where SQL may live: the storefront holds none, and every service reaches the database only through
the repositories in ``adapters/db``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flashport

PACKAGE = Path(flashport.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at any depth (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", sources("web"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_storefront_imports_no_sqlalchemy_and_no_database_adapter(path: Path) -> None:
    banned = {m for m in imported_modules(path) if m.split(".")[0] == "sqlalchemy" or "adapters.db" in m}
    assert not banned, f"{path.name} reaches the database directly: {sorted(banned)}"


SERVICES = sources("services")


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_services_build_no_queries_and_import_no_tables(path: Path) -> None:
    modules = imported_modules(path)
    tables = {m for m in modules if m.startswith("flashport.adapters.db.schema")}
    # A connection may be passed through (typed as AsyncConnection); a query may not be built here.
    builders = {
        m for m in modules if m.split(".")[0] == "sqlalchemy" and not m.startswith("sqlalchemy.ext.asyncio")
    }
    assert not tables and not builders, f"{path.name}: {sorted(tables | builders)}"
