"""The unit layer: pure rules, codecs and small helpers, run by ``make test-unit`` in seconds with no
database, Redis or browser. A unit test that asks for one of the suite's storage fixtures fails at once
instead of quietly needing PostgreSQL: such a test belongs in ``tests/integration``."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture is set up (the database ones are session-wide and would connect first). Every
    # storage fixture of tests/conftest.py (ctx, buy_ctx, client, backend) stands on database_settings,
    # and ``fixturenames`` lists what a test uses directly or through others. A unit file's own fixture
    # of one of those names (a ``ctx`` with no engine, say) does not, and is welcome.
    if "database_settings" in getattr(item, "fixturenames", ()):
        pytest.fail("a unit test may not use the database fixtures: move it to tests/integration")
