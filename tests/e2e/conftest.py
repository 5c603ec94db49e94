"""Browser tests: the real server (uvicorn) on a loopback port, driven by Debian's Chromium through
Playwright.

The server runs on an event loop in a background thread (``tests.servers.LoopThread``); the tests
prepare data and check the database through the same service context on that loop
(:meth:`LiveServer.run`), so what a test does "as another buyer" goes through the very services the
storefront uses. Every test makes its own sale and buyers, so tests never depend on each other's rows.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright import sync_api as playwright_sync

from flashport.adapters.db import migrate
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.settings import Settings
from flashport.web import session as web_session
from tests.factories import make_user
from tests.servers import LoopThread, bound_socket, running

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
T = TypeVar("T")


@pytest.fixture(scope="session")
def database_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The browser tests' own migrated SQLite database (overrides the suite's fixture of that name).

    SQLite only: the pages read through services that the integration tests already run on both
    backends, and one backend keeps the browser tests well under a minute. A database of their own
    also means the other tests' table resets never pull rows out from under a running server.
    """
    settings = Settings(env="test", data_dir=tmp_path_factory.mktemp("e2e-data"))
    # On a thread of its own: Playwright's sync API keeps an event loop running on this one, and the
    # migrations start their own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(migrate.upgrade, settings).result()
    return settings


class LiveServer:
    """The whole app served on 127.0.0.1:<free port> through the suite's one harness (tests/servers.py),
    on an event loop of its own thread; its service context is built and closed on that loop."""

    def __init__(self, settings: Settings) -> None:
        self.socket = bound_socket()
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.settings = settings
        self._thread = LoopThread("e2e-server")

    def start(self) -> None:
        self.ctx: Context = self._thread.enter(self._platform())

    @contextlib.asynccontextmanager
    async def _platform(self) -> AsyncIterator[Context]:
        ctx = await build_context(self.settings)
        try:
            async with running(create_app(ctx=ctx), sock=self.socket, access_log=False):
                yield ctx
        finally:
            await close_context(ctx)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (services, database checks) and return its result."""
        return self._thread.run(work)

    def stop(self) -> None:
        self._thread.close()


def server_settings(base: Settings, url: str) -> Settings:
    """Point the payment settings (when this build has them) at this server's own sandbox provider."""
    wanted = {
        "sandbox_pay_mounted": True,
        "payment_gateway_url": f"{url}/sandbox/alipay/gateway.do",
        "payment_notify_url": f"{url}/api/v1/payments/alipay/notify",
        "payment_return_url": f"{url}/orders",
    }
    return base.model_copy(update={k: v for k, v in wanted.items() if k in Settings.model_fields})


# Module scope, not session: Playwright's sync API keeps an event loop running on the main thread
# while it is open, which would break every asyncio test that pytest runs after these.
@pytest.fixture(scope="module")
def live_server(database_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(database_settings)
    server.settings = server_settings(database_settings, server.url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Fail, never skip: a browser suite that quietly does not run hides every regression it was for.
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser.sh (make test-e2e does)")
    with playwright_sync.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Visit:
    """One test's browser context, with helpers to log in and to keep a screenshot of each page."""

    def __init__(
        self, browser: Any, server: LiveServer, name: str, viewport: dict[str, int], locale: str = "en-GB"
    ) -> None:
        self.server = server
        # The locale is also the browser's Accept-Language, which chooses the storefront's language.
        self.context = browser.new_context(
            base_url=server.url, viewport=viewport, locale=locale, timezone_id="Asia/Shanghai"
        )
        # A safety net for navigations and actions, not a timing check: a page load took over 8 s with
        # the machine's load average at 13 (other suites running), and a test must slow down, not fail.
        self.context.set_default_timeout(30000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self._name = re.sub(r"[^\w-]+", "-", name).strip("-")
        self._shots = 0

    def log_in_as(self, user_id: int, role: Role = Role.BUYER) -> None:
        """Give the browser the signed session cookie that logging in would have set."""
        data = {"uid": user_id, "role": role.value, "name": "Test Buyer"}
        value = web_session.encode(data, self.server.settings.keys.secret, 3600)
        self.context.add_cookies([{"name": web_session.COOKIE, "value": value, "url": self.server.url}])

    def new_buyer(self) -> int:
        user_id, _ = self.server.run(make_user(self.server.ctx, Role.BUYER))
        self.log_in_as(user_id)
        return user_id

    def snap(self, label: str, page: Any = None) -> None:
        self._shots += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self._name}-{self._shots:02d}-{label}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Visit]:
    opened = Visit(browser, live_server, request.node.name, DESKTOP)
    try:
        yield opened
        assert opened.errors == [], f"script errors on the page: {opened.errors}"
    finally:
        opened.close()


@pytest.fixture
def phone_visit(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Visit]:
    opened = Visit(browser, live_server, request.node.name + "-phone", PHONE)
    try:
        yield opened
        assert opened.errors == [], f"script errors on the page: {opened.errors}"
    finally:
        opened.close()


@pytest.fixture
def chinese_phone_visit(
    browser: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Visit]:
    """A phone whose browser prefers Simplified Chinese, as most of the storefront's buyers use."""
    opened = Visit(browser, live_server, request.node.name + "-zh-phone", PHONE, locale="zh-CN")
    try:
        yield opened
        assert opened.errors == [], f"script errors on the page: {opened.errors}"
    finally:
        opened.close()
