"""The sandbox carrier's service layer: what each API call does, one transaction each.

Every change that customs must know of queues its CEB511 in the same transaction as the change, and
the message is sent after the commit (:class:`~.declarer.Declarer`), so a waybill never exists without
its declaration queued, and a crash between the two loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from flashport.ceb import AppType, Consignee, Sender
from flashport.ceb.codes import TradeMode
from flashport.ceb.delivery import DeliveryDeclaration, delivery_message
from flashport.sandbox_logistics import numbering, reports, waybills
from flashport.sandbox_logistics.ceb511 import ceb511, sender_enterprise
from flashport.sandbox_logistics.declarer import Declarer
from flashport.sandbox_logistics.errors import WaybillNotFound
from flashport.sandbox_logistics.faults import Fault
from flashport.sandbox_logistics.reports import Reporter
from flashport.sandbox_logistics.store import Records, WaybillStore
from flashport.sandbox_logistics.waybills import (
    Declaration,
    ParcelOrder,
    TrackingEvent,
    Waybill,
    WaybillStatus,
)


@dataclass(frozen=True)
class WaybillView:
    """A waybill as the API shows it: with its tracking events and its latest CEB511."""

    waybill: Waybill
    events: list[TrackingEvent]
    declaration: Declaration | None


class Carrier:
    def __init__(
        self, sender: Sender, store: WaybillStore, declarer: Declarer, reporter: Reporter | None = None
    ) -> None:
        self.sender = sender
        self._store = store
        self._declarer = declarer
        self._reporter = reporter

    async def create(self, order: ParcelOrder) -> tuple[WaybillView, bool]:
        """The order's waybill and whether it is new. Idempotent on ``order_no``: the same order again
        gets the waybill made the first time (and another try at declaring it, if still pending)."""
        async with self._store.transaction() as records:
            waybill = await records.by_order_no(order.order_no)
            made = waybill is None
            if waybill is None:
                waybill = await self._new_waybill(records, order)
        return await self._declared(waybill.logistics_no), made

    async def create_many(self, orders: list[ParcelOrder]) -> list[WaybillView]:
        """The waybills of many orders, in their order, made in one transaction (the ones that exist
        are taken as they are: idempotent on ``order_no`` like :meth:`create`). Their CEB511s go out
        together, up to a full message each (the declarer batches them), before the answer."""
        async with self._store.transaction() as records:
            numbers = []
            for order in orders:
                waybill = await records.by_order_no(order.order_no)
                if waybill is None:
                    waybill = await self._new_waybill(records, order)
                numbers.append(waybill.logistics_no)
        await self._declarer.flush_many(numbers)
        async with self._store.transaction() as records:
            return [await _view(records, number) for number in numbers]

    async def take_over(self, records: Records, logistics_nos: list[str], now: datetime) -> int:
        """Parcels the platform handed over (its feed's ``order.shipped``), in the caller's transaction
        (the feed's cursor moves in the same one): in transit, each once. A waybill already in transit
        or not this carrier's is left as it is; returns how many moved now."""
        moved = 0
        for logistics_no in logistics_nos:
            before = await records.by_logistics_no(logistics_no)
            if before is None or before.status is not WaybillStatus.CREATED:
                continue
            waybill = waybills.dispatched(before)
            await records.save(waybill)
            await self._record(records, waybill, "Parcel received from the platform", now)
            moved += 1
        return moved

    async def _new_waybill(self, records: Records, order: ParcelOrder) -> Waybill:
        now = datetime.now(UTC)
        flight = numbering.flight_on(now.date()) if order.trade_mode is TradeMode.DIRECT_IMPORT else None
        waybill = Waybill(await _free_number(records), order, flight, WaybillStatus.CREATED, now)
        await records.add(waybill)
        await self._record(records, waybill, "Waybill created; waiting for the parcel", now)
        await self._declare(records, waybill, AppType.NEW, now)
        return waybill

    async def redeclare(
        self, logistics_no: str, consignee: Consignee | None, weight_kg: Decimal | None
    ) -> WaybillView:
        """Correct the waybill (None: keep that part) and declare the change (appType 2)."""
        now = datetime.now(UTC)
        async with self._store.transaction() as records:
            waybill = waybills.corrected(await _existing(records, logistics_no), consignee, weight_kg)
            await records.save(waybill)
            await self._record(records, waybill, "Waybill corrected", now)
            await self._declare(records, waybill, AppType.CHANGE, now)
        return await self._declared(logistics_no)

    async def dispatch(self, logistics_no: str) -> WaybillView:
        """The platform handed the parcel over: in transit. Idempotent."""
        now = datetime.now(UTC)
        async with self._store.transaction() as records:
            before = await _existing(records, logistics_no)
            waybill = waybills.dispatched(before)
            if waybill != before:
                await records.save(waybill)
                await self._record(records, waybill, "Parcel received from the platform", now)
        return await self._declared(logistics_no)

    async def cancel(self, logistics_no: str) -> WaybillView:
        """Cancel a waybill whose parcel was not handed over, and withdraw it from customs (appType 3).
        Idempotent."""
        now = datetime.now(UTC)
        async with self._store.transaction() as records:
            before = await _existing(records, logistics_no)
            waybill = waybills.cancelled(before)
            if waybill != before:
                await records.save(waybill)
                await self._record(records, waybill, "Waybill cancelled", now)
                await self._declare(records, waybill, AppType.DELETE, now)
        return await self._declared(logistics_no)

    async def scan(self, logistics_no: str, milestone: str, at: datetime | None) -> WaybillView:
        """A scan of the parcel on its way (``in_transit``) or signed for (``delivered``): recorded,
        reported to the platform and, for a delivery, declared to customs (CEB513), all queued in the
        scan's transaction and sent after it. Delivering twice is harmless (nothing is reported again)."""
        now = datetime.now(UTC)
        when = at or now
        async with self._store.transaction() as records:
            before = await _existing(records, logistics_no)
            if milestone == WaybillStatus.DELIVERED.value:
                waybill = waybills.delivered(before)
                if before.status is WaybillStatus.DELIVERED:
                    return await _view(records, logistics_no)
                await records.save(waybill)
                message = delivery_message(
                    DeliveryDeclaration(sender_enterprise(self.sender), logistics_no, when), self.sender
                )
                await reports.queue(records.conn, logistics_no, reports.CUSTOMS, milestone, when, message)
                description = "Delivered: signed for by the consignee"
            else:
                waybill = waybills.scanned_in_transit(before)
                description = "In transit: scanned on the way"
            await records.add_event(logistics_no, TrackingEvent(when, waybill.status, description))
            await reports.queue(records.conn, logistics_no, reports.PLATFORM, milestone, when, None)
        if self._reporter is not None:
            await self._reporter.flush()
        return await self.show(logistics_no)

    async def show(self, logistics_no: str) -> WaybillView:
        async with self._store.transaction() as records:
            return await _view(records, logistics_no)

    async def plant_fault(self, order_no: str, fault: Fault | None) -> None:
        """Make the order's next CEB511 wrong in the way ``fault`` says (None: clear)."""
        async with self._store.transaction() as records:
            await records.set_fault(order_no, fault)

    async def _declared(self, logistics_no: str) -> WaybillView:
        """The waybill after one try at sending what is queued for it."""
        await self._declarer.flush(logistics_no)
        return await self.show(logistics_no)

    async def _declare(self, records: Records, waybill: Waybill, app_type: AppType, now: datetime) -> None:
        fault = await records.take_fault(waybill.order.order_no)
        message = ceb511(waybill, self.sender, app_type, fault)
        await records.queue(waybill.logistics_no, app_type.value, message, now)

    @staticmethod
    async def _record(records: Records, waybill: Waybill, description: str, now: datetime) -> None:
        await records.add_event(waybill.logistics_no, TrackingEvent(now, waybill.status, description))


async def _view(records: Records, logistics_no: str) -> WaybillView:
    waybill = await _existing(records, logistics_no)
    events = await records.events(logistics_no)
    declaration = await records.latest_declaration(logistics_no)
    return WaybillView(waybill, events, declaration)


async def _existing(records: Records, logistics_no: str) -> Waybill:
    waybill = await records.by_logistics_no(logistics_no)
    if waybill is None:
        raise WaybillNotFound(logistics_no)
    return waybill


async def _free_number(records: Records) -> str:
    """A waybill number no waybill has (checked inside the write transaction, so it stays free)."""
    while True:
        number = numbering.new_logistics_no()
        if await records.by_logistics_no(number) is None:
            return number
