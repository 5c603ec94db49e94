"""The unit layer: pure rules, codecs and small helpers, run by ``make test-unit`` in seconds with no
database, Redis or browser. A unit test that asks for one of the suite's storage fixtures fails at once
instead of quietly needing PostgreSQL: such a test belongs in ``tests/integration``."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_services(request: pytest.FixtureRequest) -> None:
    # Every storage fixture of tests/conftest.py (ctx, buy_ctx, client, backend) stands on this one, and
    # ``fixturenames`` lists what a test uses directly or through others. A unit file's own fixture of the
    # same name (a ``ctx`` with no engine, say) does not, and is welcome.
    if "database_settings" in request.fixturenames:
        pytest.fail("a unit test may not use the database fixtures: move it to tests/integration")
