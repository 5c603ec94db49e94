"""The sandbox payment provider as an ASGI app: standalone on its own port, or mounted in the demo.

Its lifespan loads (or makes) the keys, opens the trade record, connects to customs' single window (no
request is made until a declaration) and starts the notification sender and, with a platform address
and a partner key, the follower of its partner feed (refunds, see :mod:`.refund_feed`); on shutdown it
stops them and closes the connections and the record. Starlette does not run a mounted app's lifespan,
so a host that mounts it enters it from its own (see the package docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.routing import Route

from flashport.adapters.customs.gateway import HttpCustomsGateway
from flashport.sandbox_pay import checkout, conveniences, customs
from flashport.sandbox_pay.database import SandboxDatabase
from flashport.sandbox_pay.delivery_queue import DeliveryQueue
from flashport.sandbox_pay.gateway import gateway
from flashport.sandbox_pay.keys import ensure_keys
from flashport.sandbox_pay.notifier import NotificationSender
from flashport.sandbox_pay.provider import SandboxProvider
from flashport.sandbox_pay.refund_feed import RefundFeed
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.sandbox_pay.store import FeedRecord, TradeStore
from flashport.sandbox_pay.trades import now_utc


def create_sandbox_app(
    settings: SandboxSettings | None = None, *, clock: Callable[[], datetime] = now_utc
) -> Starlette:
    """The sandbox app. ``clock`` (aware UTC) is the provider's "now" for opening, expiring, paying and
    closing trades and for scheduling notifications; tests pass one they can move forward."""
    chosen = settings or SandboxSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        keys = ensure_keys(chosen.data_dir)
        database = SandboxDatabase(chosen.trades_file)
        await database.start()
        queue = DeliveryQueue(database)
        sender = NotificationSender(queue, chosen.notify_schedule, chosen.notify_timeout_seconds, clock=clock)
        trades = TradeStore(database)
        single_window = HttpCustomsGateway(chosen.customs_url, timeout=chosen.customs_timeout_seconds)
        desk = customs.CustomsDesk(chosen, trades, single_window)
        provider = app.state.sandbox_provider = SandboxProvider(
            chosen, keys, trades, queue, sender.wake, desk, FeedRecord(database), clock=clock
        )
        sending = asyncio.create_task(sender.run(), name="sandbox-pay notifications")
        stopping, following, feed = asyncio.Event(), None, None
        key = chosen.feed_key()
        if chosen.platform_url and key:
            feed = app.state.refund_feed = RefundFeed(
                provider, chosen.platform_url, key, page_size=chosen.feed_page_size
            )
            following = asyncio.create_task(feed.run(chosen.feed_poll_seconds, stopping), name="refund feed")
        try:
            yield
        finally:
            stopping.set()  # not cancel(): the refund in progress finishes first
            if following is not None and feed is not None:
                await following
                await feed.close()
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
            await sender.close()
            await single_window.close()
            app.state.sandbox_provider = None
            await database.stop()

    routes = [
        Route("/gateway.do", gateway, methods=["GET", "POST"]),
        Route("/pay/{trade_no}/confirm", checkout.confirm, methods=["POST"]),
        Route("/pay/{trade_no}/decline", checkout.decline, methods=["POST"]),
        Route("/sandbox/trades/{out_trade_no}/pay", conveniences.pay, methods=["POST"]),
        Route("/sandbox/trades/{out_trade_no}/renotify", conveniences.renotify, methods=["POST"]),
        Route("/sandbox/trades/{out_trade_no}/customs-fault", conveniences.set_fault, methods=["POST"]),
        Route("/sandbox/trades/{out_trade_no}", conveniences.show, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = chosen
    return app
