"""Builds the running platform from settings: database engine, stock engine, buy path. Used by the app
lifespan, the worker and the CLI; nothing here runs at import time."""

from __future__ import annotations

from datetime import timedelta

from flashport.adapters import redis_client
from flashport.adapters.customs.gateway import HttpCustomsGateway
from flashport.adapters.db.commit_pace import AdaptivePace, Pace
from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.order_writer import PgOrderWriter
from flashport.adapters.identity_vault import IdentityVault
from flashport.adapters.logistics.http import HttpLogisticsProvider
from flashport.adapters.payments.alipay import AlipayKeys, AlipayProvider
from flashport.adapters.ratelimit.interface import RateLimiter
from flashport.adapters.ratelimit.memory import InProcessLimiter
from flashport.adapters.ratelimit.redis import RedisRateLimiter
from flashport.adapters.secret_box import SecretBox
from flashport.adapters.session_revocations import RevocationList
from flashport.adapters.stock.interface import StockEngine
from flashport.adapters.stock.redis import RedisStockEngine
from flashport.adapters.stock.sql import SqlStockEngine
from flashport.adapters.waiting_room.interface import QueueStore
from flashport.adapters.waiting_room.redis import RedisQueueStore
from flashport.adapters.waiting_room.sql import SqlQueueStore
from flashport.services.context import Context
from flashport.services.rate_limits import RateLimits
from flashport.services.sales.buy_path import BuyPath, SingleLimit
from flashport.services.sales.sold_out import SoldOutBoard
from flashport.settings import Settings

# Without pub/sub (SQL engine) a sold-out flag is re-checked after this long: "within a second".
SQL_BOARD_TTL = 0.5
# With Redis pub/sub the flag is cleared by message; the TTL only covers a lost message.
REDIS_BOARD_TTL = 5.0


def payment_keys(settings: Settings) -> AlipayKeys:
    """The merchant's private key and the provider's public key from settings. Outside production a
    key left unset is the sandbox provider's demo key (made on first use in ``data_dir/sandbox-pay``);
    production settings refuse to load without both, so the sandbox is never asked there."""
    merchant, provider = settings.payment_app_private_key, settings.payment_provider_public_key
    if merchant and provider:
        return AlipayKeys(merchant, provider)
    from flashport.sandbox_pay.keys import ensure_keys  # development and tests only

    demo = ensure_keys(settings.data_dir)
    return AlipayKeys(merchant or demo.merchant_private, provider or demo.provider_public)


def single_limit_of(settings: Settings) -> SingleLimit:
    """The single-transaction limit the buy path checks (the platform charges no insurance)."""
    return SingleLimit(settings.single_transaction_limit_fen, settings.freight_fen)


def order_pace(settings: Settings, in_flight: int) -> Pace | None:
    """The orders' group commit paced to the load, up to ``in_flight`` transactions (None: a fixed pace)."""
    if not settings.group_commit_adaptive:
        return None
    return AdaptivePace(
        max_in_flight=in_flight,
        max_linger=settings.group_commit_linger_ms / 1000,
        crowd=settings.group_commit_crowd,
    )


async def build_context(settings: Settings, *, listen_for_restock: bool = True) -> Context:
    engine = create_engine(settings)
    stock: StockEngine
    sessions = RevocationList(
        engine,
        poll_seconds=settings.session_poll_seconds,
        keep=timedelta(seconds=settings.token_ttl_seconds),
    )
    limiter: RateLimiter = InProcessLimiter()
    queue_store: QueueStore = SqlQueueStore(engine)
    linger = settings.group_commit_linger_ms / 1000
    if settings.redis_url:
        client = redis_client.connect(settings.redis_url)
        # On PostgreSQL new orders skip the ORM: binary COPY over a pool of their own (order_writer.py),
        # opened at the first order.
        writer = None
        if not settings.is_sqlite:
            in_flight = settings.group_commit_in_flight
            writer = PgOrderWriter(settings.async_database_url, connections=in_flight)
        stock = RedisStockEngine(
            client,
            engine,
            prefix=settings.redis_prefix,
            max_in_flight=settings.group_commit_in_flight,
            linger=linger,
            writer=writer,
            pace=order_pace(settings, settings.group_commit_in_flight),
            replica_acks=settings.redis_replica_acks,
        )
        board = SoldOutBoard(REDIS_BOARD_TTL)
        sessions.use_redis(client, settings.redis_prefix)
        limiter = RedisRateLimiter(client, settings.redis_prefix)
        queue_store = RedisQueueStore(client, engine, prefix=settings.redis_prefix)
    else:
        in_flight = 1 if settings.is_sqlite else settings.group_commit_in_flight
        stock = SqlStockEngine(
            engine, max_in_flight=in_flight, linger=linger, pace=order_pace(settings, in_flight)
        )
        board = SoldOutBoard(SQL_BOARD_TTL)
    buy_path = BuyPath(stock, board, engine, single_limit=single_limit_of(settings))
    if isinstance(stock, RedisStockEngine) and listen_for_restock:
        stock.follow_restocks(lambda item_id: _item_news(buy_path, item_id))
    ctx = Context(
        settings=settings,
        engine=engine,
        stock=stock,
        buy_path=buy_path,
        payments=AlipayProvider(settings, payment_keys(settings)),
        vault=IdentityVault(settings),
        customs=HttpCustomsGateway(settings.customs_url, timeout=settings.customs_timeout_seconds),
        logistics=HttpLogisticsProvider(settings.logistics_url, settings.logistics_api_key),
        secrets=SecretBox(settings),
        sessions=sessions,
        limits=RateLimits.from_settings(settings, limiter),
        queue_store=queue_store,
    )
    if settings.partner_bus == "nats":
        # Imported here: nats-py is needed only with this setting (the "nats" extra).
        from flashport.adapters.partner_bus import NatsPartnerBus

        ctx.partner_bus = NatsPartnerBus(
            settings.nats_url,
            settings.nats_stream,
            settings.nats_subject_prefix,
            settings.nats_consumer,
            ack_wait=settings.nats_ack_wait_seconds,
        )  # connected on first use: only the worker's partner stages use it
    return ctx


def _item_news(buy_path: BuyPath, item_id: int) -> None:
    """What every API process does when the stock engine says an item changed: units came back (an
    order expired or was cancelled, a top-up) or an operator changed its terms (a pause, a resume, a
    new price or limit; ``inventory.items_changed`` publishes every change). The sold-out flag goes,
    and so do the cached terms, so a pause made through one process stops purchases on all of them at
    once rather than after the terms' ttl. A restock costs each process one read of the item's terms
    at its next purchase of it."""
    buy_path.board.clear(item_id)
    buy_path.forget_terms([item_id])


async def close_context(ctx: Context) -> None:
    await ctx.sessions.stop()
    await ctx.payments.close()
    await ctx.customs.close()
    await ctx.logistics.close()
    if ctx.partner_bus is not None:
        await ctx.partner_bus.close()
    await ctx.limits.limiter.close()
    await ctx.stock.close()
    if isinstance(ctx.stock, RedisStockEngine):
        await ctx.stock.redis.aclose()
    await ctx.engine.dispose()
