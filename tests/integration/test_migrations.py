from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from flashport.adapters.db.all_tables import metadata
from flashport.services.context import Context


async def test_migrated_database_matches_the_schema_without_drift(ctx: Context) -> None:
    def diff(sync_conn):
        return compare_metadata(MigrationContext.configure(sync_conn, opts={"compare_type": False}), metadata)

    async with ctx.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
