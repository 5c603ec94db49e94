"""Bringing a record written by an older simulator up to date, before the app opens it.

Version 1 (no ``meta`` table) kept each document's bytes in clear, ID numbers included, and keyed
yearly totals by an unsalted SHA-256 of the ID number. Version 2 seals the documents, adds the
columns for uniqueness and redelivery, and rebuilds the yearly totals under the HMAC key from the
released declarations' own orders (an unsalted hash cannot be re-keyed without the number). It runs
once, in one transaction, with the standard library's sqlite3 (before the async engine opens).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from flashport.sandbox_customs.checks import china_year
from flashport.sandbox_customs.documents import OrderFacts
from flashport.sandbox_customs.reading import open_envelope, read
from flashport.sandbox_customs.sealing import Sealer
from flashport.sandbox_customs.store import unique_key

SCHEMA_VERSION = 2
_NEW_COLUMNS = (
    ("owner_code", "VARCHAR(18)"),
    ("unique_no", "VARCHAR(64)"),
    ("message_digest", "VARCHAR(64)"),
)


def migrate(file: Path, sealer: Sealer) -> int:
    """Migrate ``file`` if it holds an older record; returns the version it had (0: none yet)."""
    if not file.exists():
        return 0
    db = sqlite3.connect(file, isolation_level=None)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "documents" not in tables:
            return 0
        if "meta" in tables:
            found = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            if found is not None and int(found[0]) >= SCHEMA_VERSION:
                return int(found[0])
        db.execute("BEGIN IMMEDIATE")
        try:
            _to_version_2(db, sealer)
            db.execute(
                "CREATE TABLE IF NOT EXISTS meta (name VARCHAR(32) PRIMARY KEY, value VARCHAR(64) NOT NULL)"
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        # The clear text is gone from the tables, not yet from free pages and the log: rewrite both.
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return 1
    finally:
        db.close()


def mark_current(file: Path) -> None:
    """A record made by this version: nothing to migrate, ever."""
    db = sqlite3.connect(file, isolation_level=None)
    try:
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    finally:
        db.close()


def _to_version_2(db: sqlite3.Connection, sealer: Sealer) -> None:
    columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    for name, kind in _NEW_COLUMNS:
        if name not in columns:
            db.execute(f"ALTER TABLE documents ADD COLUMN {name} {kind}")
    plain: Callable[[bytes], bool] = lambda message: message.lstrip().startswith(b"<")  # noqa: E731
    for row_id, message in db.execute("SELECT id, message FROM documents").fetchall():
        if not plain(message):
            continue
        envelope, _root = open_envelope(message)
        owner, number = unique_key(envelope.kind, envelope.head) or (None, None)
        db.execute(
            "UPDATE documents SET message = ?, owner_code = ?, unique_no = ?, message_digest = ?"
            " WHERE id = ?",
            (sealer.seal(message), owner, number, sealer.digest(message), row_id),
        )
    _rekey_year_totals(db, sealer)


def _rekey_year_totals(db: sqlite3.Connection, sealer: Sealer) -> None:
    db.execute("DELETE FROM year_totals")
    released = db.execute(
        "SELECT d.message FROM documents d JOIN declarations c ON c.order_no = d.order_no"
        " AND c.ebp_code = d.ebp_code"
        " WHERE c.state = 'released' AND d.kind = 'CEB311' AND d.status = 'current'"
    ).fetchall()
    totals: dict[tuple[str, int], int] = {}
    for (sealed,) in released:
        facts = read(sealer.open(sealed)).facts
        if isinstance(facts, OrderFacts):
            key = (sealer.id_key(facts.buyer.id_number), china_year(facts.app_time))
            totals[key] = totals.get(key, 0) + facts.actural_paid
    db.executemany(
        "INSERT INTO year_totals (id_hash, year, released_fen) VALUES (?, ?, ?)",
        [(id_key, year, fen) for (id_key, year), fen in totals.items()],
    )
