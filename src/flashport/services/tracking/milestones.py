"""Recording and showing a shipment's milestones.

Every new milestone writes ``shipment.milestone`` (order_id, order_no, milestone, at) to the outbox in
the transaction that records it, and delivery ``shipment.delivered`` as well; a milestone reached again
writes nothing, so the notifier tells the buyer once. The platform's own stages call
:func:`reach_within` inside the transaction of their own move (declared, released, picked, handed over);
carriers report theirs through :func:`report_by_carrier`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flashport.adapters.db import declarations_repo, milestones_repo, orders_repo
from flashport.domain.errors import Forbidden, NotFound
from flashport.domain.partners import Partner, PartnerKind
from flashport.domain.tracking import Milestone, carrier_milestone, check_reported_time, in_journey_order
from flashport.services.context import Context, Tx

PLATFORM = "platform"
CARRIER = "carrier"


@dataclass(frozen=True)
class MilestoneView:
    milestone: str
    at: datetime


@dataclass(frozen=True)
class ShipmentView:
    """A shipment as its buyer (and its carrier) sees it. ``carrier`` and ``logistics_no`` are None
    until the carrier gave the parcel its waybill; ``milestones`` are in the journey's order."""

    order_no: str
    carrier: str | None
    logistics_no: str | None
    milestones: list[MilestoneView]
    delivered: bool


async def reach_within(
    tx: Tx, order_id: str, order_no: str, milestone: Milestone, at: datetime, source: str = PLATFORM
) -> bool:
    """Inside ``tx``: the shipment reached ``milestone`` at ``at``; False if it had already."""
    if not await milestones_repo.add(tx.conn, order_id, order_no, milestone, at, source, tx.now):
        return False
    subject = f"order:{order_no}"
    payload = {"order_id": order_id, "order_no": order_no, "milestone": milestone.value, "at": at.isoformat()}
    await tx.emit("shipment.milestone", subject, payload)
    if milestone is Milestone.DELIVERED:
        await tx.emit(
            "shipment.delivered", subject, {"order_id": order_id, "order_no": order_no, "at": at.isoformat()}
        )
    return True


async def reach_many_within(tx: Tx, order_nos: list[str], milestone: Milestone) -> int:
    """Inside ``tx``: the declared orders of ``order_nos`` reached ``milestone`` now, in one statement
    and one outbox write (the back office's stages move hundreds at once); returns how many newly."""
    added = await milestones_repo.add_many(tx.conn, order_nos, milestone, tx.now, PLATFORM, tx.now)
    at = tx.now.isoformat()
    await tx.emit_many(
        [
            (
                "shipment.milestone",
                f"order:{order_no}",
                {"order_id": order_id, "order_no": order_no, "milestone": milestone.value, "at": at},
            )
            for order_id, order_no in added
        ]
    )
    return len(added)


async def report_by_carrier(
    ctx: Context, carrier: Partner, logistics_no: str, milestone: str, at: datetime | None
) -> ShipmentView:
    """A carrier's scan of one of its parcels. Only a carrier partner may report, and only for its own
    waybills (another's is "not found", as the partner API answers for anything outside a scope)."""
    if carrier.kind is not PartnerKind.CARRIER:
        raise Forbidden("only a carrier reports milestones", code="not_a_carrier")
    reached = carrier_milestone(milestone)
    when = check_reported_time(at, ctx.clock()) if at is not None else ctx.clock()
    async with ctx.transaction() as tx:
        shipment = await milestones_repo.shipment_of_waybill(tx.conn, logistics_no)
        if shipment is None or shipment[2] != carrier.logistics_code:
            raise NotFound(f"waybill {logistics_no} is not one of yours", code="waybill_not_found")
        order_id, order_no, _ = shipment
        await reach_within(tx, order_id, order_no, reached, when, CARRIER)
    return await _shipment(ctx, order_id, order_no)


async def shipment_for_buyer(ctx: Context, buyer_id: int, order_no: str) -> ShipmentView:
    async with ctx.read() as conn:
        order_id = await orders_repo.id_for_buyer(conn, buyer_id, order_no)
    if order_id is None:
        raise NotFound(f"order {order_no} not found", code="order_not_found")
    return await _shipment(ctx, order_id, order_no)


async def _shipment(ctx: Context, order_id: str, order_no: str) -> ShipmentView:
    async with ctx.read() as conn:
        declaration = await declarations_repo.find_by_order_no(conn, order_no)
        reached = in_journey_order(await milestones_repo.of_order(conn, order_id))
    return ShipmentView(
        order_no=order_no,
        carrier=declaration.logistics_name if declaration else None,
        logistics_no=declaration.logistics_no if declaration else None,
        milestones=[MilestoneView(r.milestone.value, r.at) for r in reached],
        delivered=any(r.milestone is Milestone.DELIVERED for r in reached),
    )
