"""A small world for partner tests: two suppliers, two carriers and two payment companies, each with a
partner and a key, and orders whose rows (lines, payment, refund, declaration) are inserted directly
together with the outbox records the real services write for them. The services that write those rows
are tested on their own; these tests are about who sees what."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from flashport.adapters.db.partners_schema import relay_cursors
from flashport.adapters.db.schema import declarations, order_lines, orders, outbox, payments, refunds
from flashport.domain.partners import PartnerKind
from flashport.services.context import Context
from flashport.services.partners import keys, registry, relay
from tests.factories import make_product_with_sku, make_supplier


@dataclass
class Member:
    partner_id: int
    kind: PartnerKind
    key: str


@dataclass
class World:
    suppliers: list[Member] = field(default_factory=list)  # index i sells sku_ids[i]
    carriers: list[Member] = field(default_factory=list)  # index i has logistics code LC{i}
    payers: list[Member] = field(default_factory=list)  # index i is provider pay{i}
    supplier_ids: list[int] = field(default_factory=list)
    sku_ids: list[int] = field(default_factory=list)


async def _member(ctx: Context, kind: PartnerKind, **link: object) -> Member:
    partner = await registry.register(ctx, name=f"{kind.value} {uuid.uuid4().hex[:8]}", kind=kind, **link)  # type: ignore[arg-type]
    issued = await keys.issue(ctx, partner.id, "test")
    return Member(partner.id, kind, issued.key)


async def make_world(ctx: Context) -> World:
    world = World()
    for i in range(2):
        supplier_id = await make_supplier(ctx)
        world.supplier_ids.append(supplier_id)
        world.sku_ids.append(await make_product_with_sku(ctx, supplier_id=supplier_id, title=f"Goods {i}"))
        world.suppliers.append(await _member(ctx, PartnerKind.SUPPLIER, supplier_id=supplier_id))
        world.carriers.append(await _member(ctx, PartnerKind.CARRIER, logistics_code=f"LC{i}"))
        world.payers.append(await _member(ctx, PartnerKind.PAYMENT_COMPANY, pay_code=f"pay{i}"))
    return world


async def place_order(
    ctx: Context, world: World, *, goods: int, carrier: int, payer: int, refund: bool = False
) -> str:
    """An order of ``world.sku_ids[goods]``: created, checked out, paid through ``pay{payer}``, declared
    with carrier ``LC{carrier}``, released and shipped; optionally refunded. Returns its number."""
    order_id = str(uuid.uuid4())
    order_no = f"FP{uuid.uuid4().hex[:16].upper()}"
    subject = f"order:{order_no}"
    async with ctx.transaction() as tx:
        now = tx.now
        await tx.conn.execute(
            orders.insert().values(
                id=order_id,
                order_no=order_no,
                buyer_id=1,
                event_id=1,
                sale_item_id=1,
                quantity=1,
                status="pending_payment",
                fulfilment="bonded",
                goods_value_fen=9900,
                total_fen=9900,
                idempotency_key=order_id,
                created_at=now,
                payment_deadline=now + timedelta(minutes=20),
            )
        )
        await tx.conn.execute(
            order_lines.insert().values(
                order_id=order_id,
                line_no=1,
                sale_item_id=1,
                sku_id=world.sku_ids[goods],
                title=f"Goods {goods}",
                quantity=1,
                unit_price_fen=9900,
                total_fen=9900,
            )
        )
        await tx.emit("order.created", subject, {"order_id": order_id, "order_no": order_no, "quantity": 1})
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            orders.update()
            .where(orders.c.id == order_id)
            .values(
                consignee_name="张三",
                consignee_phone="13812345678",
                consignee_address="上海市浦东新区世纪大道100号",
                consignee_district="310115",
                buyer_name="张三",
                buyer_id_masked="3101**********1234",
            )
        )
        await tx.emit(
            "order.checked_out", subject, {"order_id": order_id, "order_no": order_no, "buyer_name": "张三"}
        )
    async with ctx.transaction() as tx:
        payment_id = await tx.conn.scalar(
            payments.insert()
            .values(
                order_id=order_id,
                order_no=order_no,
                attempt=1,
                provider=f"pay{payer}",
                out_trade_no=f"T{order_no}",
                amount_fen=9900,
                status="succeeded",
                provider_trade_no=f"P{order_no}",
                created_at=tx.now,
                updated_at=tx.now,
            )
            .returning(payments.c.id)
        )
        await tx.conn.execute(
            orders.update().where(orders.c.id == order_id).values(status="paid", paid_at=tx.now)
        )
        await tx.emit(
            "payment.succeeded", subject, {"payment_id": payment_id, "amount": "99.00", "payer_name": "张三"}
        )
        await tx.emit("order.paid", subject, {"order_id": order_id, "order_no": order_no})
        await tx.conn.execute(
            declarations.insert().values(
                order_id=order_id,
                order_no=order_no,
                trade_mode="1210",
                state="pending",
                cop_no=f"C{uuid.uuid4().hex[:16]}",
                next_attempt_at=tx.now,
                created_at=tx.now,
                updated_at=tx.now,
            )
        )
        await tx.emit("declaration.opened", subject, {"order_no": order_no, "trade_mode": "1210"})
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            declarations.update()
            .where(declarations.c.order_no == order_no)
            .values(
                state="released",
                logistics_code=f"LC{carrier}",
                logistics_no=f"W{order_no}",
                released_at=tx.now,
            )
        )
        await tx.emit("declaration.declared", subject, {"order_no": order_no, "logistics_no": f"W{order_no}"})
        await tx.emit("declaration.released", subject, {"order_no": order_no})
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            declarations.update()
            .where(declarations.c.order_no == order_no)
            .values(state="shipped", shipped_at=tx.now)
        )
        await tx.emit("order.shipped", subject, {"order_no": order_no, "logistics_no": f"W{order_no}"})
    if refund:
        async with ctx.transaction() as tx:
            refund_id = await tx.conn.scalar(
                refunds.insert()
                .values(
                    payment_id=payment_id,
                    out_request_no=f"R{order_no}",
                    provider_trade_no=f"P{order_no}",
                    amount_fen=9900,
                    reason="customs_rejected",
                    status="succeeded",
                    next_attempt_at=tx.now,
                    created_at=tx.now,
                    refunded_at=tx.now,
                )
                .returning(refunds.c.id)
            )
            await tx.emit(
                "refund.succeeded", subject, {"refund_id": refund_id, "amount": "99.00", "reason": "x"}
            )
    return order_no


async def relay_until_settled(ctx: Context, within_seconds: float = 60.0) -> None:
    """Relay until every outbox record written so far is behind the relay's cursor. On PostgreSQL the
    outbox only shows records below the oldest transaction running anywhere on the server (any
    database), so a long transaction elsewhere can hold the relay back: wait for it, never assume it."""
    async with ctx.read() as conn:
        newest = int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))) or 0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while True:
        await relay.relay_all(ctx)
        if await _behind_cursor(ctx, newest) or not newest:
            return
        if loop.time() > deadline:
            raise AssertionError(f"the relay did not pass outbox record {newest} in {within_seconds} s")
        await asyncio.sleep(0.05)


async def _behind_cursor(ctx: Context, newest: int) -> bool:
    async with ctx.read() as conn:
        row = (
            await conn.execute(sa.select(relay_cursors).where(relay_cursors.c.name == relay.RELAY))
        ).first()
        if row is None:
            return False
        if conn.dialect.name != "postgresql":
            return int(row.last_id) >= newest
        ahead = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(
                outbox.c.id <= newest,
                sa.tuple_(outbox.c.tx_seq, outbox.c.id) > sa.tuple_(int(row.tx_seq), int(row.last_id)),
            )
        )
    return not ahead
