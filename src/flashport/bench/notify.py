"""Payment notifications at rush rates: N signed ``trade_status_sync`` notifications fired at a running
platform, timed and audited.

1. N checked-out orders with pending payments are written straight into the database (one sale of N
   units, N buyers, each order with its own identity so no annual limit interferes);
2. each gets the standard notification Alipay sends, signed with the sandbox provider's private key in
   the wire format ``python-alipay-sdk`` produces (sorted, URL-encoded, ``sign`` and ``sign_type`` in
   the form), and a share is sent twice, at random places, as a provider's retries would be;
3. the requests go over keep-alive connections (``bench/loadgen.py``); the API's CPU is read from
   ``/proc`` before and after;
4. the audit: every order paid once, one ``payment.succeeded`` and one ``order.paid`` record each, no
   refund, every notification stored.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from flashport.adapters.db.schema import (
    buyer_item_units,
    orders,
    outbox,
    payment_notifications,
    payments,
    refunds,
    sale_items,
)
from flashport.adapters.identity_vault import mask_id_number
from flashport.adapters.payments import alipay_protocol as proto
from flashport.bench.loadgen import Target
from flashport.bench.setup import SALE_PRICE_FEN, insert_buyers, insert_sale
from flashport.services.context import Context

CHINA = ZoneInfo("Asia/Shanghai")
NOTIFY_PATH = "/api/v1/payments/alipay/notify"
ORDER_CHUNK = 5_000
SAMPLE_ID_NUMBER = "110105199003070025"  # a well-formed number; only its sealed form is stored


@dataclass(frozen=True)
class PreparedPayments:
    run_id: str
    item_id: int
    out_trade_nos: list[str]


async def prepare_payments(ctx: Context, count: int, run_id: str) -> PreparedPayments:
    """``count`` checked-out orders of one unit, pending payment, each with its pending payment."""
    buyer_ids = await insert_buyers(ctx, run_id, count)
    async with ctx.transaction() as tx:
        event_id, item_id = await insert_sale(tx.conn, tx.now, run_id, count)
        # The units are taken (reserved) as the buy path would have left them.
        await tx.conn.execute(sale_items.update().where(sale_items.c.id == item_id).values(reserved=count))
    sealed = ctx.vault.seal(SAMPLE_ID_NUMBER)
    masked = mask_id_number(SAMPLE_ID_NUMBER)
    numbers: list[str] = []
    for first in range(0, count, ORDER_CHUNK):
        async with ctx.transaction() as tx:
            order_rows, payment_rows = [], []
            for n in range(first, min(first + ORDER_CHUNK, count)):
                order_no = f"N{run_id}{n:07d}"
                order_id = str(uuid.uuid4())
                order_rows.append(_order_row(order_id, order_no, buyer_ids[n], event_id, item_id, tx.now))
                order_rows[-1].update(
                    buyer_id_cipher=sealed,
                    buyer_id_masked=masked,
                    buyer_id_hash=hashlib.sha256(f"{run_id}:{n}".encode()).hexdigest(),
                )
                payment_rows.append(_payment_row(order_id, order_no, tx.now))
                numbers.append(order_no)
            await tx.conn.execute(orders.insert(), order_rows)
            await tx.conn.execute(payments.insert(), payment_rows)
            # Each buyer's units (the database truth of rule 2), as the buy path leaves them: without
            # them the SQL engine counts these buyers as holding nothing and reconcile disagrees.
            units = [{"sale_item_id": item_id, "buyer_id": row["buyer_id"], "units": 1} for row in order_rows]
            await tx.conn.execute(buyer_item_units.insert(), units)
    return PreparedPayments(run_id, item_id, numbers)


def _order_row(
    order_id: str, order_no: str, buyer_id: int, event_id: int, item_id: int, now: datetime
) -> dict[str, object]:
    return {
        "id": order_id,
        "order_no": order_no,
        "buyer_id": buyer_id,
        "event_id": event_id,
        "sale_item_id": item_id,
        "quantity": 1,
        "status": "pending_payment",
        "fulfilment": "bonded",
        "goods_value_fen": SALE_PRICE_FEN,
        "freight_fen": 0,
        "discount_fen": 0,
        "tax_fen": 0,
        "total_fen": SALE_PRICE_FEN,
        "idempotency_key": f"bench-{order_no}",
        "created_at": now,
        "payment_deadline": now + timedelta(hours=1),
        "consignee_name": "王伟",
        "consignee_phone": "13800138000",
        "consignee_address": "上海市浦东新区世纪大道100号",
        "consignee_district": "310115",
        "buyer_name": "李娜",
        "tax_regime": "cross_border",
        "checked_out_at": now,
    }


def _payment_row(order_id: str, order_no: str, now: datetime) -> dict[str, object]:
    return {
        "order_id": order_id,
        "order_no": order_no,
        "attempt": 1,
        "provider": "alipay",
        "out_trade_no": order_no,
        "amount_fen": SALE_PRICE_FEN,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
    }


def notification_fields(app_id: str, out_trade_no: str, amount_fen: int, paid_at: datetime) -> dict[str, str]:
    """Alipay's standard ``trade_status_sync`` fields for a paid trade, unsigned."""
    amount = proto.yuan(amount_fen)
    digest = int(hashlib.sha256(out_trade_no.encode()).hexdigest()[:15], 16)
    return {
        "notify_time": proto.timestamp(paid_at.astimezone(CHINA)),
        "notify_type": "trade_status_sync",
        "notify_id": f"bench{digest:020d}",
        "app_id": app_id,
        "auth_app_id": app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": proto.SIGN_TYPE,
        "trade_no": f"2026{digest % 10**24:024d}",
        "out_trade_no": out_trade_no,
        "seller_id": "2088102000000001",
        "buyer_id": "2088102177846880",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "buyer_pay_amount": amount,
        "subject": f"Flashport order {out_trade_no}",
        "gmt_create": proto.timestamp((paid_at - timedelta(seconds=20)).astimezone(CHINA)),
        "gmt_payment": proto.timestamp(paid_at.astimezone(CHINA)),
    }


def signed_form(fields: Mapping[str, str], key: rsa.RSAPrivateKey) -> bytes:
    """The form body as a provider signing with ``python-alipay-sdk`` posts it: the fields but
    ``sign_type`` sorted by name as ``k=quote_plus(v)``, then ``sign`` (RSA2 over ``k=v`` of those same
    fields, raw), then ``sign_type``, which is sent but never signed."""
    signed = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
    signature = proto.sign(proto.notification_content(signed), key)
    pairs = [
        *sorted(signed.items()),
        ("sign", signature),
        ("sign_type", fields.get("sign_type", proto.SIGN_TYPE)),
    ]
    return "&".join(f"{k}={quote_plus(v)}" for k, v in pairs).encode()


def notify_request(target: Target, body: bytes) -> bytes:
    return (
        f"POST {NOTIFY_PATH} HTTP/1.1\r\n"
        f"Host: {target.host}:{target.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def with_duplicates(bodies: Sequence[bytes], share: float, seed: int = 14) -> list[bytes]:
    """Every body once, plus ``share`` of them a second time, the whole shuffled (a fixed seed, so two
    runs send the same sequence): some repeats land in the same moment as their first, some later."""
    rng = random.Random(seed)
    repeats = rng.sample(list(bodies), k=min(len(bodies), round(len(bodies) * share)))
    sequence = [*bodies, *repeats]
    rng.shuffle(sequence)
    return sequence


# --- the audit --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotifyAudit:
    orders: int
    paid: int
    payments_succeeded: int
    payment_events_wrong: int  # orders without exactly one payment.succeeded record
    paid_events_wrong: int  # orders without exactly one order.paid record
    refunds: int
    notifications_stored: int
    notifications_expected: int

    @property
    def passed(self) -> bool:
        return (
            self.paid == self.orders
            and self.payments_succeeded == self.orders
            and self.payment_events_wrong == 0
            and self.paid_events_wrong == 0
            and self.refunds == 0
            and self.notifications_stored == self.notifications_expected
        )


async def audit(ctx: Context, prepared: PreparedPayments, sent: int) -> NotifyAudit:
    run_orders = orders.c.sale_item_id == prepared.item_id
    subject = "order:" + orders.c.order_no
    async with ctx.read() as conn:
        paid = await conn.scalar(sa.select(sa.func.count()).where(run_orders, orders.c.status == "paid"))
        succeeded = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(payments.join(orders, orders.c.id == payments.c.order_id))
            .where(run_orders, payments.c.status == "succeeded")
        )
        wrong = {}
        for kind in ("payment.succeeded", "order.paid"):
            per_order = (
                sa.select(sa.func.count(outbox.c.id).label("n"))
                .select_from(
                    orders.outerjoin(outbox, sa.and_(outbox.c.subject == subject, outbox.c.type == kind))
                )
                .where(run_orders)
                .group_by(orders.c.id)
                .subquery()
            )
            wrong[kind] = await conn.scalar(sa.select(sa.func.count()).where(per_order.c.n != 1))
        refunded = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(refunds.join(payments, payments.c.id == refunds.c.payment_id))
            .where(payments.c.out_trade_no.like(f"N{prepared.run_id}%"))
        )
        stored = await conn.scalar(
            sa.select(sa.func.count()).where(
                payment_notifications.c.out_trade_no.like(f"N{prepared.run_id}%")
            )
        )
    return NotifyAudit(
        orders=len(prepared.out_trade_nos),
        paid=int(paid or 0),
        payments_succeeded=int(succeeded or 0),
        payment_events_wrong=int(wrong["payment.succeeded"] or 0),
        paid_events_wrong=int(wrong["order.paid"] or 0),
        refunds=int(refunded or 0),
        notifications_stored=int(stored or 0),
        notifications_expected=sent,
    )


def new_run_id() -> str:
    return f"{int(time.time()) % 10**6:06d}"
