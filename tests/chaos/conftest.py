"""The chaos suite: a PostgreSQL cluster and a Redis server of its own (started once, broken on purpose
case by case), and a table of figures printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.harness import Figures, PrivatePostgres, PrivateRedis

RESULTS: list[Figures] = []


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def record_figures() -> Iterator[list[Figures]]:
    """A case appends its figures here; they are printed in the run's summary."""
    yield RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("chaos: seconds of errors and seconds to recover, per case")
    for figures in RESULTS:
        terminalreporter.write_line(figures.line())
