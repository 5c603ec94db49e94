"""Which exceptions mean "a dependency is down or unreachable", not "the code is wrong".

The database restarting, a network that stalls past a timeout, Redis gone, SQLite's disk full: each
surfaces as a driver exception somewhere a service did not expect one. Those requests fail closed with
503 and ``Retry-After`` (the door's error handler asks :func:`dependency_down`), and nothing was
decided: every write is in a transaction that rolled back, every purchase keyed by its Idempotency-Key.
Anything else that escapes stays a logged 500: a fault in the code, which a retry would not fix.
"""

from __future__ import annotations

import asyncpg
import sqlalchemy.exc as sa_exc
from redis import exceptions as redis_exc

# asyncpg's own errors when a connection is lost or refused, and the server's answers while it shuts
# down or starts (AdminShutdownError, CannotConnectNowError, ...): the order writer uses asyncpg
# directly, so these can arrive unwrapped.
_DRIVER_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, out of memory, too many connections
    redis_exc.ConnectionError,
    redis_exc.TimeoutError,
    redis_exc.BusyLoadingError,
    ConnectionError,
    TimeoutError,
    sa_exc.TimeoutError,  # no pooled connection within the pool's timeout
    sa_exc.DisconnectionError,
)

SQL_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError)  # SQLAlchemy's wrappers of the above
# What a web framework's handler table registers (by class): every class above, plus OSError for ENOSPC
# and its kin; :func:`dependency_down` then decides for the one instance.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    *_DRIVER_ERRORS,
    *SQL_ERRORS,
    sa_exc.DBAPIError,
    OSError,
)


def dependency_down(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the database, Redis or the disk under them failed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (*_DRIVER_ERRORS, *SQL_ERRORS)):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError) and not isinstance(current, FileNotFoundError | PermissionError):
            return True  # ENOSPC, EIO, ECONNRESET, ...
        current = current.__cause__ or current.__context__
    return False
