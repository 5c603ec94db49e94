"""The partner relay: moves committed outbox records, in commit order, into each entitled partner's
event log (``partner_events``), with a sequence number per partner and subject.

Exactly once across crashes: the relay's cursor over the outbox, the events it appends and the cursor's
move are one transaction, under a lock on the cursor row. A relay killed mid-pass (even ``kill -9``)
leaves neither its events nor its cursor move, and the next pass does the same records again; two
workers never relay at once. Because passes are serialised and each appends only after the previous
one committed, ``partner_events.id`` follows commit order, and the feed pages by id alone.

Who is entitled is decided here, once, from the data as it stands when the record is relayed (the
order's lines, its declaration's carrier, its payments' provider): :mod:`flashport.domain.partners`
says which record types each kind receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import outbox_repo, partners_repo
from flashport.adapters.db import partner_events_repo as events_repo
from flashport.adapters.db import partner_scope_repo as scope
from flashport.adapters.db.outbox_repo import StoredRecord
from flashport.domain.partners import Partner, PartnerKind, kind_wants, thin
from flashport.services.context import Context

RELAY = "partners"
PASS_LIMIT = 1000


def order_link(order_no: str) -> str:
    return f"/api/v1/partner/orders/{order_no}"


@dataclass(frozen=True)
class RelayPass:
    read: int  # outbox records consumed
    appended: int  # partner events written for them


async def relay_pass(ctx: Context, limit: int = PASS_LIMIT) -> RelayPass:
    """Relay up to ``limit`` settled outbox records."""
    async with ctx.transaction() as tx:
        tx_seq, last_id = await events_repo.lock_cursor(tx.conn, RELAY, tx.now)
        records = await outbox_repo.read_after(tx.conn, tx_seq, last_id, limit=limit)
        if not records:
            return RelayPass(0, 0)
        partners = await partners_repo.list_partners(tx.conn)
        rows = await _attribute(tx.conn, records, partners) if partners else []
        seqs = await events_repo.last_seqs(
            tx.conn, (r["partner_id"] for r in rows), (r["subject"] for r in rows)
        )
        for row in rows:
            key = (row["partner_id"], row["subject"])
            seqs[key] = seqs.get(key, 0) + 1
            row["subject_seq"] = seqs[key]
            row["created_at"] = tx.now
        await events_repo.append(tx.conn, rows)
        last = records[-1]
        await events_repo.move_cursor(tx.conn, RELAY, last.tx_seq or 0, last.id, tx.now)
    return RelayPass(len(records), len(rows))


async def relay_all(ctx: Context, max_passes: int | None = None) -> int:
    """Relay passes until the settled part of the outbox is drained (or ``max_passes`` are done);
    returns the events appended."""
    total, passes = 0, 0
    while max_passes is None or passes < max_passes:
        done = await relay_pass(ctx)
        total += done.appended
        passes += 1
        if done.read == 0:
            break
    return total


def _order_no(subject: str) -> str | None:
    return subject[6:] if subject.startswith("order:") else None


def _sku_id(subject: str) -> int | None:
    parts = subject.split(":")
    return int(parts[1]) if parts[0] == "stock" and len(parts) == 3 and parts[1].isdigit() else None


async def _attribute(
    conn: AsyncConnection, records: list[StoredRecord], partners: list[Partner]
) -> list[dict[str, Any]]:
    owners = await scope.order_owners(conn, filter(None, (_order_no(r.subject) for r in records)))
    sku_suppliers = await scope.stock_suppliers(conn, filter(None, (_sku_id(r.subject) for r in records)))
    rows: list[dict[str, Any]] = []
    for record in records:
        order_no, sku_id = _order_no(record.subject), _sku_id(record.subject)
        for partner in partners:
            if not kind_wants(partner.kind, record.type) and not record.subject.startswith("partner:"):
                continue
            if order_no is not None:
                if not _owns_order(partner, owners.get(order_no)):
                    continue
                data = {**thin(record.payload), "order_no": order_no}
                link: str | None = order_link(order_no)
            elif record.subject == f"partner:{partner.id}" and record.type.startswith("webhook_endpoint."):
                # The partner's own integration (an endpoint disabled): its owner is told in its feed.
                data, link = thin(record.payload), None
            elif sku_id is not None:
                if (
                    partner.kind is not PartnerKind.SUPPLIER
                    or sku_suppliers.get(sku_id) != partner.supplier_id
                ):
                    continue
                data, link = thin(record.payload), None
            else:
                continue
            rows.append(
                {
                    "partner_id": partner.id,
                    "outbox_id": record.id,
                    "type": record.type,
                    "subject": record.subject,
                    "occurred_at": record.occurred_at,
                    "data": data,
                    "link": link,
                }
            )
    return rows


def _owns_order(partner: Partner, owners: scope.OrderOwners | None) -> bool:
    if owners is None:
        return False
    if partner.kind is PartnerKind.SUPPLIER:
        return partner.supplier_id in owners.supplier_ids
    if partner.kind is PartnerKind.CARRIER:
        return owners.logistics_code is not None and owners.logistics_code == partner.logistics_code
    if partner.kind is PartnerKind.PAYMENT_COMPANY:
        return partner.pay_code in owners.pay_codes
    return False
