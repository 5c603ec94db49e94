"""The unit layer: pure rules, codecs and small helpers, run by ``make test-unit`` in seconds with no
database, Redis or browser. A unit test that asks for one of the suite's storage fixtures fails at once
instead of quietly needing PostgreSQL: such a test belongs in ``tests/integration``."""

from __future__ import annotations

import pytest

SERVICE_FIXTURES = frozenset({"database_settings", "backend", "ctx", "buy_ctx", "client"})


@pytest.fixture(autouse=True)
def _no_services(request: pytest.FixtureRequest) -> None:
    wanted = SERVICE_FIXTURES.intersection(request.fixturenames)
    if wanted:
        pytest.fail(f"a unit test may not use {sorted(wanted)}: move it to tests/integration", pytrace=False)
