"""``bench-pipeline --scratch``: a PostgreSQL database and a Redis prefix of the run's own, so the run
neither depends on nor leaves anything in the configured ones.

The database is made on the configured PostgreSQL server (or the local one), migrated with the real
migrations, and dropped afterwards; the Redis keys under the prefix are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator

import asyncpg
import redis

from flashport.adapters.db import migrate
from flashport.settings import Settings

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def server_url(database_url: str | None, dbname: str) -> str:
    """The same server and credentials, another database; plain ``postgresql://`` for asyncpg."""
    url = database_url if database_url and database_url.startswith("postgres") else LOCAL_POSTGRES
    rest = url.split("://", 1)[1]
    return "postgresql://" + rest.split("?", 1)[0].rsplit("/", 1)[0] + "/" + dbname


async def _admin(settings: Settings, sql: str) -> None:
    conn = await asyncpg.connect(server_url(settings.database_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def scratch_space(settings: Settings) -> Iterator[Settings]:
    name = f"fp_pipeline_{secrets.token_hex(4)}"
    prefix = f"pipe{secrets.token_hex(4)}"
    redis_url = settings.redis_url or LOCAL_REDIS
    asyncio.run(_admin(settings, f'CREATE DATABASE "{name}"'))
    try:
        scratch = settings.model_copy(
            update={
                "database_url": server_url(settings.database_url, name),
                "redis_url": redis_url,
                "redis_prefix": prefix,
            }
        )
        migrate.upgrade(scratch)
        yield scratch
    finally:
        asyncio.run(_admin(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        drop_prefix(redis_url, prefix)


def drop_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
    finally:
        client.close()
