"""The Redis stock engine: one Lua script reserves, the database keeps the order (group commit).

Keys of one item share the hash tag ``{item:ID}`` so every script touches a single Redis Cluster slot::

    <prefix>:{item:ID}:meta             hash  quantity, limit, starts_ms, ends_ms, open
    <prefix>:{item:ID}:taken            int   units reserved + sold
    <prefix>:{item:ID}:buyers           hash  buyer id -> units in live orders
    <prefix>:{item:ID}:idem:<buyer>:<k> str   order id reserved under that idempotency key (24 h);
                                              once saved, the purchase itself (SavedPurchase)
    <prefix>:{item:ID}:released:<order> str   marker: this order's units went back (7 days)
    <prefix>:{item:ID}:recent           zset  reservations of the last minutes, for the orphan sweep
    <prefix>:{item:ID}:rebuilding       str   lock of the one process rebuilding the item (30 s)
    <prefix>:{item:ID}:late             list  orders committed while it was rebuilt, for it to count

Failure policy: Redis unreachable -> ``ServiceUnavailable`` (503), nothing reserved: buying fails
closed. Database write failed after a reservation -> the reservation is undone, unless we cannot tell
whether the COMMIT landed; then it is noted in doubt and settled once the database can say. A process
killed between reserving and committing leaves an orphan: the orphan sweep gives it back once it is
older than any commit can land (see "orphans" below). With ``replica_acks``, a reservation no replica
confirmed in time is undone -> 503: a failover cannot lose the reservation of a saved order (what it
can lose, a release, leaves units counted as taken, which reconcile finds and gives back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flashport.adapters import metrics
from flashport.adapters.db import orders_repo
from flashport.adapters.db.commit_pace import Pace
from flashport.adapters.db.engine import reading, snapshot
from flashport.adapters.db.group_commit import GroupCommitter
from flashport.adapters.db.schema import orders
from flashport.adapters.redis_client import RedisClient
from flashport.adapters.stock.interface import Counters, Placement, PlacementKind, StockEngine
from flashport.adapters.stock.restock import RestockListener
from flashport.domain.errors import ServiceUnavailable
from flashport.domain.orders import OrderDraft, RejectReason, SavedPurchase

log = logging.getLogger(__name__)
SCRIPTS = Path(__file__).parent
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000
RELEASE_MARK_TTL_MS = 7 * 24 * 3600 * 1000
RELEASE_PIPELINE = 500  # releases per round trip when a sweep returns many orders at once
DOUBT_SETTLES_AFTER_MS = 3000  # a reservation in doubt is settled this long after its commit failed
RESTORE_PIPELINE = 5_000  # idempotency keys per round trip when an item is rebuilt
# One process at a time rebuilds an item Redis lost (others wait for its terms); a rebuilder that died
# holds the lock this long at most.
REBUILD_LOCK_MS = 30_000
REBUILD_WAIT_SECONDS = 0.01  # how often a process waiting for another's rebuild looks again
# An order is written within COMMIT_DEADLINE_SECONDS of its reservation or not at all (a draft that
# waited longer for its group commit is given up, and its reservation undone), and a transaction of the
# PostgreSQL order writer cannot last beyond its server-side timeouts (order_writer.py). So a
# reservation older than ORPHAN_AFTER_MS whose order is not in the database never will be: its process
# died between the two steps (kill -9, OOM), and the orphan sweep gives its units and key back.
COMMIT_DEADLINE_SECONDS = 15.0
ORPHAN_AFTER_MS = 60_000
ORPHAN_SWEEP_BATCH = 2_000  # reservations looked at per item and sweep
UNSAVED_SCAN = 5_000  # recent reservations read per round trip by reconcile
# With replica_acks, a reservation call no replica confirmed within this long is undone (503): a lagging
# or lost replica costs a sale its purchases for that long, not its stock.
REPLICA_ACK_TIMEOUT_MS = 1_000
LOOKUP_BATCH = 1_000  # idempotency keys per MGET when buyers of a sold-out item are refused

_INIT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
"""


class DraftWriter(Protocol):
    """Writes a batch of new orders (rows, lines, outbox events) in one transaction, bypassing the
    ORM: on PostgreSQL, :class:`flashport.adapters.db.order_writer.PgOrderWriter`."""

    async def write(self, drafts: Sequence[OrderDraft]) -> None: ...

    async def order_exists(self, order_id: str) -> bool: ...

    async def saved_among(self, order_ids: Sequence[str]) -> set[str]: ...

    async def close(self) -> None: ...


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


class RedisStockEngine(StockEngine):
    name = "redis"
    abandons_safely = True  # _finish_abandoned, and a group commit that writes a cancelled caller's order

    def __init__(
        self,
        client: RedisClient,
        engine: AsyncEngine,
        *,
        prefix: str,
        max_in_flight: int = 4,
        linger: float = 0.0,
        max_reserve_batch: int = 256,
        writer: DraftWriter | None = None,
        commit_deadline: float = COMMIT_DEADLINE_SECONDS,
        orphan_after_ms: int = ORPHAN_AFTER_MS,
        pace: Pace | None = None,
        replica_acks: int = 0,
    ) -> None:
        self.redis = client
        self.replica_acks = replica_acks
        self.prefix = prefix
        self._engine = engine
        self._reserve = client.register_script((SCRIPTS / "reserve.lua").read_text())
        self._release = client.register_script((SCRIPTS / "release.lua").read_text())
        self._forget = client.register_script((SCRIPTS / "forget.lua").read_text())
        self._init = client.register_script(_INIT)
        self._saved = client.register_script((SCRIPTS / "saved.lua").read_text())
        self._rebuilt_terms = client.register_script((SCRIPTS / "rebuilt.lua").read_text())
        self._writer = writer
        self._commit_deadline = commit_deadline
        self.orphan_after_ms = orphan_after_ms
        self.committer: GroupCommitter[tuple[OrderDraft, float], bool] = GroupCommitter(
            self._write_with(writer) if writer is not None else self._insert_batch,
            max_in_flight=max_in_flight,
            linger_seconds=linger,
            pace=pace,
        )
        self._max_reserve_batch = max_reserve_batch
        self._queued: dict[int, list[tuple[OrderDraft, asyncio.Future[tuple[str, Any]]]]] = {}
        self._dispatch_scheduled = False
        self._lookups: dict[int, list[tuple[str, asyncio.Future[str | SavedPurchase | None]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.reserve_calls = 0  # script calls made, for tests and the benchmark
        self.lookup_calls = 0  # MGETs of idempotency keys (order_for_key), for tests
        self.rebuilds = 0  # items rebuilt from the database after Redis lost them
        self.orphans_settled = 0  # reservations given back because their order was never saved
        self.unreplicated_batches = 0  # reservation calls undone: no replica confirmed them in time
        self._rebuilding: dict[int, asyncio.Lock] = {}
        self._restocks: RestockListener | None = None

    @property
    def restock_channel(self) -> str:
        return f"{self.prefix}:restock"

    def follow_restocks(self, on_restock: Callable[[int], None]) -> None:
        if self._restocks is None:
            self._restocks = RestockListener(self.redis, self.restock_channel, on_restock)
            self._restocks.start()

    async def following(self) -> None:
        if self._restocks is not None:
            await self._restocks.ready.wait()

    def key(self, item_id: int, part: str) -> str:
        return f"{self.prefix}:{{item:{item_id}}}:{part}"

    def _item_keys(self, item_id: int) -> tuple[str, str, str]:
        return self.key(item_id, "meta"), self.key(item_id, "taken"), self.key(item_id, "buyers")

    async def ping(self) -> None:
        await self.redis.ping()

    async def place(self, draft: OrderDraft) -> Placement:
        status, value = await self._reservation(draft)
        if status == "unknown" and await self._rebuilt(draft.terms.item_id):
            status, value = await self._reservation(draft)  # Redis had lost the item: judged again
        if status == "ok" or (status == "duplicate" and _text(value) == draft.id):
            # A key naming this very draft: the reservation was made by an earlier try of this same
            # call, whose answer was lost (the client sends a command again after a broken connection,
            # as when a master fails over); it is this purchase's own, to be saved like any other.
            taken, buyers, idem = self._undo_keys(draft)
            await self._make_durable(draft, taken, buyers, idem)
            remaining = int(value) if status == "ok" else None
            return Placement(PlacementKind.CREATED, order_id=draft.id, remaining=remaining)
        if status == "duplicate":
            text = _text(value)
            saved = SavedPurchase.decode(text)
            order_id = text if saved is None else saved.order_id
            return Placement(PlacementKind.DUPLICATE, order_id=order_id, saved=saved)
        if status == "unknown":
            return Placement.rejected(RejectReason.UNKNOWN_ITEM)
        return Placement.rejected(RejectReason(status), remaining=int(value))

    def order_for_key(
        self, buyer_id: int, item_id: int, key: str
    ) -> asyncio.Future[str | SavedPurchase | None]:
        """The key as the reservation script recorded it: it outlives the order's own commit by nothing.

        Queued like a reservation: every look-up of one item within one turn of the event loop goes to
        Redis in one ``MGET`` (the keys share the item's hash tag). Once an item sells out, each late
        buyer is refused after one such look-up (rule 7: a retry whose answer was lost still gets its
        order), and a rush brings thousands of them a second: one round trip each cost the API about
        as much as a purchase's whole reservation."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | SavedPurchase | None] = loop.create_future()
        queued = self._lookups.get(item_id)
        if queued is None:
            self._lookups[item_id] = queued = []
            if len(self._lookups) == 1:
                loop.call_soon(self._dispatch_lookups)
        queued.append((self.key(item_id, f"idem:{buyer_id}:{key}"), future))
        return future

    def _dispatch_lookups(self) -> None:
        queued, self._lookups = self._lookups, {}
        for waiting in queued.values():
            for start in range(0, len(waiting), LOOKUP_BATCH):
                task = asyncio.create_task(self._look_up(waiting[start : start + LOOKUP_BATCH]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _look_up(self, waiting: list[tuple[str, asyncio.Future[str | SavedPurchase | None]]]) -> None:
        try:
            values = await self.redis.mget([name for name, _ in waiting])
            self.lookup_calls += 1
        except BaseException as exc:  # Redis down, or cancelled: no purchase may wait forever on it
            for _, future in waiting:
                if not future.done():
                    error = ServiceUnavailable(
                        "the stock engine is unreachable", code="stock_engine_unavailable"
                    )
                    error.__cause__ = exc
                    future.set_exception(error)
            if isinstance(exc, RedisError):
                return
            raise
        for (_, future), value in zip(waiting, values, strict=True):
            if not future.done():
                text = None if value is None else _text(value)
                future.set_result(None if text is None else SavedPurchase.decode(text) or text)

    def _reservation(self, draft: OrderDraft) -> asyncio.Future[tuple[str, Any]]:
        """Queue the draft for the next reservation call of its item. Every purchase of one item that
        arrives within one turn of the event loop goes to Redis in a single script call."""
        future: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        queued = self._queued.get(draft.terms.item_id)
        if queued is None:
            self._queued[draft.terms.item_id] = [(draft, future)]
            if not self._dispatch_scheduled:
                self._dispatch_scheduled = True
                asyncio.get_running_loop().call_soon(self._dispatch)
        else:
            queued.append((draft, future))
        return future

    def _dispatch(self) -> None:
        self._dispatch_scheduled = False
        queued, self._queued = self._queued, {}
        for item_id, waiting in queued.items():
            for start in range(0, len(waiting), self._max_reserve_batch):
                task = asyncio.create_task(
                    self._reserve_batch(item_id, waiting[start : start + self._max_reserve_batch])
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _reserve_batch(
        self, item_id: int, waiting: list[tuple[OrderDraft, asyncio.Future[tuple[str, Any]]]]
    ) -> None:
        meta, taken, buyers = self._item_keys(item_id)
        keys = [meta, taken, buyers, self.key(item_id, "recent")]
        metrics.observe_reserve_batch(len(waiting))
        args: list[str | int] = [_ms(waiting[0][0].created_at), IDEMPOTENCY_TTL_MS]
        for draft, _ in waiting:
            keys.append(self.key(item_id, f"idem:{draft.buyer_id}:{draft.idempotency_key}"))
            args += (draft.buyer_id, draft.quantity, draft.id)
        try:
            answer, acked = await self._reserved(keys, args)
        except RedisError as exc:
            self._fail(waiting, exc)
            return
        except BaseException as exc:  # cancelled, or a bug: no purchase may wait forever on this call
            self._fail(waiting, exc)
            raise
        if not isinstance(answer, list) or len(answer) != 2 * len(waiting):
            log.error("reserve.lua answered %r to %d purchases", answer, len(waiting))
            self._fail(waiting, None)
            return
        if acked < self.replica_acks:
            await self._undo_unreplicated(item_id, waiting, answer, acked)
            return
        self.reserve_calls += 1
        for i, (draft, future) in enumerate(waiting):
            status = answer[2 * i]
            if isinstance(status, bytes):
                status = status.decode()
            if not future.done():
                future.set_result((status, answer[2 * i + 1]))
            elif future.cancelled() and status == "ok":
                self._finish_abandoned(draft)

    async def _reserved(self, keys: list[str], args: list[str | int]) -> tuple[Any, int]:
        """The script's answer, and how many replicas confirmed it (0 when ``replica_acks`` is 0).

        With ``replica_acks``, the script call and a ``WAIT`` go down one connection in one round trip
        (WAIT counts the writes of its own connection): Redis replicates asynchronously, and a master
        that fails over before its replica has a reservation loses it, while the order it belongs to is
        saved, so its unit would be sold a second time."""
        if not self.replica_acks:
            return await self._reserve(keys=keys, args=args), 0
        for first in (True, False):
            pipe = self.redis.pipeline(transaction=False)
            await self._reserve(keys=keys, args=args, client=pipe)  # type: ignore[arg-type]
            wait = ("WAIT", self.replica_acks, REPLICA_ACK_TIMEOUT_MS)
            if isinstance(self.redis, RedisCluster):  # WAIT names no key: sent to the item's master
                pipe.execute_command(*wait, target_nodes=self.redis.get_node_from_key(keys[0]))
            else:
                pipe.execute_command(*wait)
            answer, acked = await pipe.execute(raise_on_error=False)
            if first and isinstance(answer, NoScriptError):  # a new or just promoted master: ran nothing
                await self.redis.script_load(self._reserve.script)
                continue
            for reply in (answer, acked):
                if isinstance(reply, Exception):
                    raise reply
            return answer, int(acked)
        raise AssertionError("unreachable")

    async def _undo_unreplicated(
        self,
        item_id: int,
        waiting: list[tuple[OrderDraft, asyncio.Future[tuple[str, Any]]]],
        answer: list[Any],
        acked: int,
    ) -> None:
        """No replica confirmed the batch in time (it lags, or it is down): its reservations are given
        back (forget.lua) and every purchase of the batch answered 503, so no order stands on a
        reservation a failover could lose. Should the undo itself be lost in a failover, the replica
        never had the reservation either; should it fail, the orphan sweep gives the units back."""
        log.error(
            "item %s: %d replica(s) of %d confirmed a reservation within %d ms; the batch is undone",
            item_id, acked, self.replica_acks, REPLICA_ACK_TIMEOUT_MS,
        )  # fmt: skip
        _, taken, buyers = self._item_keys(item_id)
        calls = [
            (
                [taken, buyers, self.key(item_id, f"idem:{d.buyer_id}:{d.idempotency_key}")],
                [d.buyer_id, d.quantity, d.id],
            )
            for i, (d, _) in enumerate(waiting)
            if _text(answer[2 * i]) == "ok"
        ]
        try:
            if calls:
                await self._pipelined(self._forget, calls)
        except RedisError:
            log.exception("could not undo %d unreplicated reservation(s); the orphan sweep will", len(calls))
        self.unreplicated_batches += 1
        for _, future in waiting:
            if not future.done():
                future.set_exception(
                    ServiceUnavailable(
                        "the stock engine could not make the reservation durable; nothing was reserved",
                        code="stock_engine_unavailable",
                    )
                )

    @staticmethod
    def _fail(
        waiting: list[tuple[OrderDraft, asyncio.Future[tuple[str, Any]]]], cause: BaseException | None
    ) -> None:
        for _, future in waiting:
            if not future.done():
                error = ServiceUnavailable(
                    "the stock engine is unreachable; nothing was reserved", code="stock_engine_unavailable"
                )
                error.__cause__ = cause
                future.set_exception(error)

    def _finish_abandoned(self, draft: OrderDraft) -> None:
        """The purchase was cancelled (its client went away) while its reservation was in flight, and
        the reservation was made: the order is saved all the same, as if the answer had been lost on
        the way, so a retry with the same key finds it. Left alone, the unit and the key would be held
        by an order that never exists, and every retry told to come back later."""

        async def finish() -> None:
            with contextlib.suppress(ServiceUnavailable):  # undone or noted in doubt by _make_durable
                await self._make_durable(draft, *self._undo_keys(draft))

        task = asyncio.create_task(finish())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _undo_keys(self, draft: OrderDraft) -> tuple[str, str, str]:
        item_id = draft.terms.item_id
        _, taken, buyers = self._item_keys(item_id)
        return taken, buyers, self.key(item_id, f"idem:{draft.buyer_id}:{draft.idempotency_key}")

    async def _make_durable(self, draft: OrderDraft, taken: str, buyers: str, idem: str) -> None:
        failure: Exception
        try:
            # Cancelled here, the batch still writes the order.
            if await self.committer.submit((draft, time.monotonic() + self._commit_deadline)):
                return
            failure = TimeoutError(
                f"order {draft.id} waited over {self._commit_deadline:.0f} s to be written"
            )
        except Exception as exc:
            failure = exc
        # Not cancellable half-way: the reservation must end undone, kept, or noted in doubt.
        settling = asyncio.ensure_future(self._after_failed_write(draft, taken, buyers, idem, failure))
        settling.add_done_callback(_retrieved)  # its error is the caller's, if the caller is still there
        await asyncio.shield(settling)

    async def _after_failed_write(
        self, draft: OrderDraft, taken: str, buyers: str, idem: str, failure: Exception
    ) -> None:
        landed = await self._order_exists(draft.id)
        if landed:  # the COMMIT went through even though the call reported an error
            return
        if landed is False:
            try:
                await self._forget(
                    keys=[taken, buyers, idem], args=[draft.buyer_id, draft.quantity, draft.id]
                )
            except RedisError:
                log.exception("could not undo reservation of order %s; reconcile will", draft.id)
        else:
            await self._note_doubt(draft)
        raise ServiceUnavailable(
            "the order could not be saved; nothing was charged, please retry", code="order_not_saved"
        ) from failure

    # --- reservations in doubt ----------------------------------------------------------------------------
    # A group commit failed and the database could not then say whether the order landed (it was down):
    # the reservation can be neither kept nor undone yet. It is noted in one hash and undone once the
    # database answers "no such order", asked DOUBT_SETTLES_AFTER_MS after the failure at the earliest
    # (so that a COMMIT the server had read before the connection broke is visible by then): by a retry
    # of the purchase, which then buys afresh, or by the worker's sweep. Until then the unit counts as
    # taken (never oversold), and a retry is told to come back (409 idempotency_key_in_progress with
    # Retry-After) instead of waiting on a row that may never come.

    @property
    def doubts_key(self) -> str:
        return f"{self.prefix}:in_doubt"

    async def _note_doubt(self, draft: OrderDraft) -> None:
        noted = int(time.time() * 1000)
        entry = f"{noted}|{draft.terms.item_id}|{draft.buyer_id}|{draft.quantity}|{draft.idempotency_key}"
        try:
            await self.redis.hset(self.doubts_key, draft.id, entry)
        except RedisError:
            log.exception("could not note order %s as in doubt; reconcile will settle it", draft.id)

    async def settle_doubt(self, order_id: str) -> bool | None:
        """For a reservation in doubt: True if its order did land, False if it did not (its units and its
        idempotency key are given back now), None if it is not in doubt or the database still cannot
        say."""
        entry = await self.redis.hget(self.doubts_key, order_id)
        if entry is None:
            return None
        noted, item, buyer, units, key = (entry.decode() if isinstance(entry, bytes) else entry).split("|", 4)
        if time.time() * 1000 - int(noted) < DOUBT_SETTLES_AFTER_MS:
            return None
        landed = await self._order_exists(order_id)
        if landed is None:
            return None
        if not landed:
            _, taken, buyers = self._item_keys(int(item))
            idem = self.key(int(item), f"idem:{buyer}:{key}")
            await self._forget(keys=[taken, buyers, idem], args=[buyer, units, order_id])
            await self.redis.publish(self.restock_channel, item)
            log.warning("order %s was never saved: its reservation is undone", order_id)
        await self.redis.hdel(self.doubts_key, order_id)
        return landed

    async def settle_doubts(self, limit: int = 500) -> int:
        """Every reservation in doubt the database can now answer for (the worker's sweep), up to
        ``limit``; returns how many were settled."""
        settled = 0
        async for order_id, _ in self.redis.hscan_iter(self.doubts_key, count=limit):
            if settled >= limit:
                break
            if (
                await self.settle_doubt(order_id.decode() if isinstance(order_id, bytes) else order_id)
                is not None
            ):
                settled += 1
        return settled

    # --- orphans ------------------------------------------------------------------------------------------
    # Every reservation is also noted in its item's ``recent`` sorted set, scored by Redis's clock. The
    # sweep (the worker's ``orphans_settled`` stage, and a retry that finds its key naming an order that
    # is not there) looks at the entries older than ``orphan_after_ms``: those whose order is saved are
    # simply dropped from the set; the others can no longer be saved (COMMIT_DEADLINE_SECONDS and the
    # writer's timeouts), so their units and idempotency key are given back (forget.lua, which acts only
    # while the key still names that order, so a settled doubt or a second sweep gives nothing back twice).

    async def settle_orphans(self, item_ids: Sequence[int]) -> int:
        """Give back the reservations of these items whose process died before saving their order; how
        many were. Nothing is given back while the database cannot answer."""
        seconds, micros = await self.redis.time()
        cutoff = int(seconds) * 1000 + int(micros) // 1000 - self.orphan_after_ms
        settled = 0
        for item_id in item_ids:
            recent = self.key(item_id, "recent")
            members = [
                _text(m)
                for m in await self.redis.zrangebyscore(
                    recent, "-inf", cutoff, start=0, num=ORPHAN_SWEEP_BATCH
                )
            ]
            if not members:
                continue
            entries = [m.split("|", 3) for m in members]
            saved = await self._saved_among([order_id for order_id, *_ in entries])
            if saved is None:
                return settled
            _, taken, buyers = self._item_keys(item_id)
            given_back = 0
            for order_id, buyer, units, idem in entries:
                if order_id not in saved:
                    given_back += await self._forget(
                        keys=[taken, buyers, idem], args=[buyer, units, order_id]
                    )
            await self.redis.zrem(recent, *members)
            if given_back:
                log.warning(
                    "item %s: %d reservation(s) whose order was never saved given back", item_id, given_back
                )
                await self.redis.publish(self.restock_channel, str(item_id))
            settled += given_back
        self.orphans_settled += settled
        return settled

    async def unsaved_reservations(self, item_id: int) -> dict[int, int]:
        """Units per buyer of this item's recent reservations whose order is not in the database (yet):
        orders still being committed, and orphans the sweep will give back. Reconcile leaves them be.
        Only a key still naming its bare order id can be one (a saved order's key holds its purchase),
        and only those are looked up in the database, so a big sale's set costs Redis reads mostly."""
        recent = self.key(item_id, "recent")
        unsaved: dict[int, int] = {}
        for start in range(0, await self.redis.zcard(recent), UNSAVED_SCAN):
            entries = [
                _text(m).split("|", 3)
                for m in await self.redis.zrange(recent, start, start + UNSAVED_SCAN - 1)
            ]
            pipe = self.redis.pipeline(transaction=False)
            for _, _, _, idem in entries:
                pipe.get(idem)
            values = await pipe.execute()
            bare = [e for e, v in zip(entries, values, strict=True) if v is not None and _text(v) == e[0]]
            if not bare:
                continue
            saved = await self._saved_among([order_id for order_id, *_ in bare])
            if saved is None:
                raise ServiceUnavailable("the database does not answer", code="dependency_unavailable")
            for order_id, buyer, units, _ in bare:
                if order_id not in saved:
                    unsaved[int(buyer)] = unsaved.get(int(buyer), 0) + int(units)
        return unsaved

    async def _saved_among(self, order_ids: Sequence[str]) -> set[str] | None:
        try:
            if self._writer is not None:
                return await self._writer.saved_among(order_ids)
            async with reading(self._engine) as conn:
                found = await conn.scalars(sa.select(orders.c.id).where(orders.c.id.in_(list(order_ids))))
                return set(found.all())
        except Exception:
            log.exception("cannot tell which of %d orders were saved", len(order_ids))
            return None

    async def _order_exists(self, order_id: str) -> bool | None:
        try:
            if self._writer is not None:
                return await self._writer.order_exists(order_id)
            async with reading(self._engine) as conn:
                return (await conn.scalar(sa.select(orders.c.id).where(orders.c.id == order_id))) is not None
        except Exception:
            log.exception("cannot tell whether order %s was saved", order_id)
            return None

    def _write_with(
        self,
        writer: DraftWriter,
    ) -> Callable[[Sequence[tuple[OrderDraft, float]]], Awaitable[list[bool]]]:
        async def transact(batch: Sequence[tuple[OrderDraft, float]]) -> list[bool]:
            drafts, written = _in_time(batch)
            await writer.write(drafts)
            await self._note_saved(drafts)
            return written

        return transact

    async def _insert_batch(self, batch: Sequence[tuple[OrderDraft, float]]) -> list[bool]:
        drafts, written = _in_time(batch)
        async with self._engine.begin() as conn:
            await orders_repo.insert_drafts(conn, drafts)
        await self._note_saved(drafts)  # committed: only now may a retry be answered from the key
        return written

    async def _note_saved(self, drafts: Sequence[OrderDraft]) -> None:
        """Put each saved order's purchase under its idempotency key (one script call per item, all in
        one round trip), and count any order whose reservation Redis lost meanwhile (saved.lua). Best
        effort: a retry that finds a bare id reads the order from the database, and reconcile finds an
        order left uncounted because this call failed."""
        if not drafts:
            return
        by_item: dict[int, list[OrderDraft]] = {}
        for draft in drafts:
            by_item.setdefault(draft.terms.item_id, []).append(draft)
        calls = [
            (
                [
                    *self._rebuild_keys(item_id),
                    *(self.key(item_id, f"idem:{d.buyer_id}:{d.idempotency_key}") for d in saved),
                ],
                [
                    IDEMPOTENCY_TTL_MS,
                    *(v for d in saved for v in (d.id, SavedPurchase.of(d).encode(), d.buyer_id, d.quantity)),
                ],
            )
            for item_id, saved in by_item.items()
        ]
        try:
            counted = sum(int(n) for n in await self._pipelined(self._saved, calls))
        except RedisError:
            log.warning(
                "could not note %d saved orders on their keys; retries read the database", len(drafts)
            )
            return
        if counted:
            log.warning(
                "stock engine: %d order(s) saved after Redis lost their reservations: counted", counted
            )

    def _rebuild_keys(self, item_id: int) -> list[str]:
        """meta, taken, buyers, late, rebuilding: the keys saved.lua and rebuilt.lua begin with."""
        return [*self._item_keys(item_id), self.key(item_id, "late"), self.key(item_id, "rebuilding")]

    async def _pipelined(
        self, script: AsyncScript, calls: Sequence[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """Calls of one script in one pipelined round trip, answers in order. A single Redis's pipeline
        loads its scripts itself; a cluster's does not, and a master that has not seen the script yet (a
        node added, a replica just promoted) answers NOSCRIPT: those calls alone are made again once the
        script is loaded on every master (the others ran, and must not run twice)."""
        answers = await self._pipeline_of(script, calls)
        missing = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
        if missing:
            await self.redis.script_load(script.script)
            again = await self._pipeline_of(script, [calls[i] for i in missing])
            for i, answer in zip(missing, again, strict=True):
                answers[i] = answer
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return answers

    async def _pipeline_of(
        self, script: AsyncScript, calls: Sequence[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for keys, args in calls:
            # redis-py runs a script in a pipeline of either kind; its annotation names the clients only.
            await script(keys=keys, args=args, client=pipe)  # type: ignore[arg-type]
        return list(await pipe.execute(raise_on_error=False))

    async def release_within(self, conn: AsyncConnection, orders: Sequence[Mapping[str, Any]]) -> bool:
        return False  # Redis is not part of the database transaction: release after commit

    async def confirm_within(self, conn: AsyncConnection, order: Mapping[str, Any]) -> None:
        return None  # Redis counts reserved and sold units together as "taken"

    async def release_after(self, orders: Sequence[Mapping[str, Any]]) -> None:
        """One pipelined round trip per ``RELEASE_PIPELINE`` orders, then one restock message per item
        that got units back. Each order's marker makes a retry of the whole batch, after a crash
        anywhere in it, return only what had not come back yet."""
        restocked: set[int] = set()
        for start in range(0, len(orders), RELEASE_PIPELINE):
            chunk = orders[start : start + RELEASE_PIPELINE]
            calls = []
            for order in chunk:
                item_id = order["sale_item_id"]
                meta, taken, buyers = self._item_keys(item_id)
                marker = self.key(item_id, f"released:{order['id']}")
                calls.append(
                    (
                        [taken, buyers, marker, meta],
                        [order["buyer_id"], order["quantity"], RELEASE_MARK_TTL_MS],
                    )
                )
            released = await self._pipelined(self._release, calls)
            restocked.update(o["sale_item_id"] for o, now in zip(chunk, released, strict=True) if now)
        for item_id in sorted(restocked):
            await self.redis.publish(self.restock_channel, str(item_id))

    async def remaining(self, item_ids: Sequence[int]) -> dict[int, int]:
        if not item_ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for item_id in item_ids:
            meta, taken, _ = self._item_keys(item_id)
            pipe.hget(meta, "quantity")
            pipe.get(taken)
        values = await pipe.execute()
        result = {}
        for i, item_id in enumerate(item_ids):
            quantity, taken_units = values[2 * i], values[2 * i + 1]
            result[item_id] = max(0, int(quantity or 0) - int(taken_units or 0))
        return result

    @property
    def loaded_key(self) -> str:
        """Set once the items have been loaded; a Redis that lost its data has lost this key too."""
        return f"{self.prefix}:loaded"

    async def lost(self) -> bool:
        return not await self.redis.exists(self.loaded_key)

    async def reload(self, item_ids: Sequence[int]) -> None:
        for item_id in item_ids:
            await self._rebuild(item_id)
        await self.redis.set(self.loaded_key, str(int(time.time())))
        if item_ids:
            log.warning("stock engine: Redis had lost its data; %d items loaded again", len(item_ids))

    async def _rebuilt(self, item_id: int) -> bool:
        """Redis answered "unknown" for an item the buy path knows: it lost its keys (restarted empty,
        flushed, failed over without them). Rebuild the item from the database, its idempotency keys
        included, once however many purchases and processes noticed (the others wait and judge again).
        False when the database does not know the item either."""
        try:
            if await self._rebuild(item_id):
                log.warning("stock engine: item %s is missing from Redis; rebuilt from the database", item_id)
                self.rebuilds += 1
            return bool(await self.redis.exists(self._item_keys(item_id)[0]))
        except RedisError as exc:
            raise ServiceUnavailable(
                "the stock engine is unreachable; nothing was reserved", code="stock_engine_unavailable"
            ) from exc

    async def _rebuild(self, item_id: int) -> bool:
        """Rebuild one item Redis does not have, under its lock: one process rebuilds, the others (in this
        process: its asyncio lock; elsewhere: the Redis lock) wait until its terms are there. True when
        this call rebuilt it. Two rebuilds at once would each restore the keys of their own snapshot,
        and an order committed between the two would have its key back without being counted."""
        meta, lock = self._item_keys(item_id)[0], self.key(item_id, "rebuilding")
        async with self._rebuilding.setdefault(item_id, asyncio.Lock()):
            token = uuid.uuid4().hex
            while not await self.redis.set(lock, token, nx=True, px=REBUILD_LOCK_MS):
                if await self.redis.exists(meta):
                    return False  # another process rebuilt it meanwhile
                await asyncio.sleep(REBUILD_WAIT_SECONDS)  # another process is rebuilding it
            try:
                if await self.redis.exists(meta):
                    return False
                await self.sync_items([item_id], keys_since=IDEMPOTENCY_TTL_MS, lock_token=token)
                return True
            finally:
                await self._unlock(lock, token)

    async def _unlock(self, lock: str, token: str) -> None:
        if await self.redis.get(lock) in (token, token.encode()):
            await self.redis.delete(lock)  # rebuilt.lua frees it when it ran; this is for a failure

    async def sync_items(
        self, item_ids: Sequence[int], *, keys_since: int | None = None, lock_token: str = ""
    ) -> None:
        """Write each item's terms and, where Redis has none yet, its counters from the database truth.
        The counters go first and the terms last: until the terms exist the script answers "unknown" and
        reserves nothing, so no purchase can count against counters about to be set. With
        ``keys_since`` (ms), the idempotency keys of orders made that recently are written back too.
        Counters and keys are read from one snapshot, so an order has its key back exactly when it is
        counted; one committed after the snapshot is counted when its key is found missing (saved.lua,
        rebuilt.lua)."""
        since = datetime.now(UTC) - timedelta(milliseconds=keys_since or 0)
        async with snapshot(self._engine) as conn:
            truth = await orders_repo.taken_truth(conn, item_ids)
            read = [
                (
                    item_id,
                    await orders_repo.load_terms(conn, item_id),
                    await orders_repo.idempotency_records(conn, item_id, since) if keys_since else [],
                )
                for item_id in item_ids
            ]
        for item_id, terms, records in read:
            meta, taken, buyers = self._item_keys(item_id)
            if terms is None:
                await self.redis.delete(meta)
                continue
            units, per_buyer = truth[item_id]
            flat = [str(v) for pair in per_buyer.items() for v in pair]
            await self._init(keys=[taken, buyers], args=[units, *flat])
            if keys_since is not None:
                await self._restore_keys(item_id, records, keys_since)
            fields = {
                "quantity": terms.quantity,
                "limit": terms.per_buyer_limit,
                "starts_ms": _ms(terms.starts_at),
                "ends_ms": _ms(terms.ends_at),
                "open": "1" if terms.open else "0",
            }
            await self._write_terms(item_id, fields, lock_token)
            await self.redis.publish(self.restock_channel, str(item_id))

    async def _write_terms(self, item_id: int, fields: Mapping[str, Any], lock_token: str) -> None:
        """The terms, written together with the counting of the orders saved.lua left on the item's late
        list while it was rebuilt (rebuilt.lua); read again if more arrived in between."""
        terms = [v for pair in fields.items() for v in pair]
        late_key = self.key(item_id, "late")
        while True:
            late = [json.loads(entry) for entry in await self.redis.lrange(late_key, 0, -1)]
            counted = await self._rebuilt_terms(
                keys=[*self._rebuild_keys(item_id), *(entry[0] for entry in late)],
                args=[IDEMPOTENCY_TTL_MS, lock_token, len(late), *(v for e in late for v in e[1:]), *terms],
            )
            if int(counted) >= 0:
                break
        if int(counted):
            log.warning(
                "stock engine: item %s: %d order(s) saved while it was rebuilt: counted", item_id, counted
            )

    async def _restore_keys(
        self, item_id: int, records: Sequence[tuple[int, str, str, datetime]], within_ms: int
    ) -> None:
        """Each recent order's idempotency key again, with what is left of its time to live (NX: a key
        Redis still has wins)."""
        now = datetime.now(UTC)
        for start in range(0, len(records), RESTORE_PIPELINE):
            pipe = self.redis.pipeline(transaction=False)
            for buyer_id, key, order_id, created_at in records[start : start + RESTORE_PIPELINE]:
                left = within_ms - int((now - created_at).total_seconds() * 1000)
                if left > 0:
                    pipe.set(self.key(item_id, f"idem:{buyer_id}:{key}"), order_id, px=left, nx=True)
            await pipe.execute()

    async def read_counters(self, item_id: int) -> Counters | None:
        meta, taken, buyers = self._item_keys(item_id)
        if not await self.redis.exists(meta):
            return None
        units = int(await self.redis.get(taken) or 0)
        per_buyer = {int(b): int(u) for b, u in (await self.redis.hgetall(buyers)).items() if int(u) != 0}
        return Counters(units, per_buyer)

    async def adjust(self, item_id: int, taken_delta: int, buyer_deltas: Mapping[int, int]) -> None:
        _, taken, buyers = self._item_keys(item_id)
        pipe = self.redis.pipeline(transaction=True)
        if taken_delta:
            pipe.incrby(taken, taken_delta)
        for buyer_id, delta in buyer_deltas.items():
            pipe.hincrby(buyers, str(buyer_id), delta)
        await pipe.execute()
        if taken_delta < 0:
            await self.redis.publish(self.restock_channel, str(item_id))

    async def close(self) -> None:
        if self._restocks is not None:
            await self._restocks.stop()
        while self._tasks or self._queued:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await asyncio.sleep(0)
        await self.committer.drain()
        if self._writer is not None:
            await self._writer.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _in_time(batch: Sequence[tuple[OrderDraft, float]]) -> tuple[list[OrderDraft], list[bool]]:
    """The drafts still within their commit deadline, and for each of the batch whether it is."""
    now = time.monotonic()
    written = [deadline > now for _, deadline in batch]
    if not all(written):
        log.warning("%d order(s) waited too long for their group commit: given up", written.count(False))
    return [draft for (draft, _), ok in zip(batch, written, strict=True) if ok], written


def _retrieved(task: asyncio.Future[None]) -> None:
    """Mark a shielded task's outcome as seen, so a caller cancelled meanwhile leaves no "exception was
    never retrieved" behind."""
    if not task.cancelled():
        task.exception()
