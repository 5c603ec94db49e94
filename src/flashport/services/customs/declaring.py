"""The worker's declaring job: the four documents of each due pending declaration's current version,
for a batch of declarations at a time.

1. the order (CEB311), sent by the platform, up to 100 orders per message;
2. the payment voucher (CEB411), declared by the payment company at the platform's request, asked
   per order (the payment company's API is per trade), several at once;
3. the waybill (CEB511), declared by the carrier when it gives the parcel its waybill number, asked
   for up to 100 new parcels in one request (the carrier answers once their CEB511 is sent);
4. the inventory list (CEB621), signed, declared by the platform as the customs agent, up to 100 per
   message under one signature; it needs the waybill number (and, for direct imports, the flight
   and master waybill) from step 3.

A pass claims up to :data:`CLAIM_LIMIT` due declarations in one short transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL: two workers never claim the same one), reads their facts set-based, and
records each step for all of them in one transaction. Each step is done once per version and
remembered in its own column, so a failure resumes where it stopped instead of sending anything twice;
a message kept but not sent is sent again byte for byte.

Failure policy: one order's failure (data missing, the codec or the schema refusing its document, a
partner refusing it) postpones that order alone, with ``last_error`` and an exponential back-off; the
others of its batch go on. A message that cannot reach the single window postpones the orders in it.
A re-declared order (next version, a change: appType 2) is sent in a message of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import Any

from flashport.adapters.db import declaring_repo
from flashport.adapters.db.declarations_repo import Declaration
from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.adapters.logistics.interface import LogisticsRefused, LogisticsUnavailable, Waybill
from flashport.ceb import AppType, CustomsMessageError, inventory_message, order_message
from flashport.domain.limits import china_date
from flashport.domain.tracking import Milestone
from flashport.services.context import Context
from flashport.services.customs import documents, messages, partners
from flashport.services.customs.documents import NotDeclarable
from flashport.services.payments.refunds import backoff
from flashport.services.tracking import milestones

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a claimed declaration is left alone this long by other workers
CLAIM_LIMIT = 300  # declarations one pass claims: three full messages of each kind
MESSAGE_MAX = 100  # documents per message (XSD maxOccurs)
PARTNER_CONCURRENCY = MESSAGE_MAX  # requests to each partner at once: a full batch of theirs
PARTNER_ERRORS = (
    LogisticsUnavailable,
    LogisticsRefused,
    partners.PartnerFailed,
    CustomsMessageError,
    NotDeclarable,
)


async def declare_pending(ctx: Context, *, batch: int = CLAIM_LIMIT) -> int:
    """Send the documents of up to ``batch`` due pending declarations; returns how many became fully
    declared."""
    async with ctx.transaction() as tx:
        claimed = await declaring_repo.claim_due(tx.conn, tx.now, tx.now + LEASE, batch)
    if not claimed:
        return 0
    failed: dict[int, str] = {}
    async with ctx.read() as conn:
        facts, refused = await documents.load_many(ctx, conn, claimed)
    failed |= refused
    going = [facts[d.id] for d in claimed if d.id in facts]

    failed |= await _send_platform_documents(ctx, going, "CEB311")
    going = [f for f in going if f.declaration.id not in failed]
    failed |= await _ask_partners(ctx, going)
    going = [f for f in going if f.declaration.id not in failed]
    going = await _with_waybills(ctx, going)
    failed |= await _send_platform_documents(ctx, going, "CEB621")
    return await _finish(ctx, claimed, failed)


def _pending_step(facts: documents.Facts, kind: str) -> bool:
    d = facts.declaration
    done = d.order_sent_version if kind == "CEB311" else d.inventory_sent_version
    return done < d.version


async def _send_platform_documents(ctx: Context, going: list[documents.Facts], kind: str) -> dict[int, str]:
    """Step 1 or 4 for every declaration in ``going`` that still needs it; the failures by id."""
    todo = [f for f in going if _pending_step(f, kind)]
    if not todo:
        return {}
    outcome = await messages.resend_kept(ctx, [f.declaration for f in todo], kind)
    fresh = [
        f for f in todo if f.declaration.id not in outcome.sent and f.declaration.id not in outcome.failed
    ]
    # declTime is the date in China (UTC+8): at 07:30 in Shanghai it is already today there, while the
    # UTC date is still yesterday.
    sender, today = documents.platform_sender(ctx), china_date(ctx.clock())
    contents: list[tuple[Declaration, Any]] = []
    for f in fresh:
        try:
            content = (
                documents.order_declaration(ctx, f)
                if kind == "CEB311"
                else documents.inventory_declaration(ctx, f, today)
            )
        except (NotDeclarable, CustomsMessageError) as exc:
            outcome.failed[f.declaration.id] = f"{type(exc).__name__}: {exc}"
            continue
        contents.append((f.declaration, content))

    def build(items: Sequence[Any], heads: list[str], guid: str, app_type: AppType) -> bytes:
        if kind == "CEB311":
            return order_message(items, sender, app_type, guid=guid, head_guids=heads)
        signer = documents.signer(ctx)
        return inventory_message(items, sender, app_type, signer=signer, guid=guid, head_guids=heads)

    new = [item for item in contents if item[0].version == 1]
    for start in range(0, len(new), MESSAGE_MAX):
        outcome.merge(
            await messages.send_new(ctx, kind, new[start : start + MESSAGE_MAX], build, AppType.NEW)
        )
    for declaration, content in contents:
        if declaration.version > 1:  # a re-declaration goes in a message of its own
            app_type = await messages.app_type_for(ctx, declaration.id, kind, declaration.version)
            outcome.merge(await messages.send_new(ctx, kind, [(declaration, content)], build, app_type))
    return outcome.failed


async def _ask_partners(ctx: Context, going: list[documents.Facts]) -> dict[int, str]:
    """Steps 2 and 3: the payment vouchers per order, several orders at once; then the new waybills
    in batches of a full CEB511 each; then all of it recorded in one transaction."""
    failed: dict[int, str] = {}
    payments: list[partners.PaymentDeclared] = []
    waybills: list[tuple[Declaration, Waybill]] = []

    def failing(d: Declaration, exc: Exception) -> None:
        if not isinstance(exc, PARTNER_ERRORS):  # a bug or an unforeseen answer: this order waits
            log.error("asking the partners failed for declaration %s", d.id, exc_info=exc)
        failed[d.id] = f"{type(exc).__name__}: {exc}"

    async def ask_payment(f: documents.Facts) -> None:
        try:
            payments.append(await partners.ask_payment(ctx, f))
        except Exception as exc:
            failing(f.declaration, exc)

    async def ask_waybill(f: documents.Facts) -> None:
        try:
            waybills.append((f.declaration, await partners.ask_waybill(ctx, f)))
        except Exception as exc:
            failing(f.declaration, exc)

    async def ask_waybills(batch: list[documents.Facts]) -> None:
        try:
            for d, waybill in await partners.ask_waybills(ctx, batch):
                if waybill.declared:
                    waybills.append((d, waybill))
                else:
                    failing(
                        d,
                        partners.PartnerFailed(
                            f"carrier has not declared waybill {waybill.logistics_no} yet"
                        ),
                    )
        except LogisticsRefused:  # one bad parcel refuses the request: ask one by one, it fails alone
            await _gathered(ctx, [ask_waybill(f) for f in batch])
        except Exception as exc:
            for f in batch:
                failing(f.declaration, exc)

    await _gathered(
        ctx, [ask_payment(f) for f in going if f.declaration.payment_declared_version < f.declaration.version]
    )
    wanting = [
        f
        for f in going
        if f.declaration.id not in failed and f.declaration.waybill_version < f.declaration.version
    ]
    fresh = [f for f in wanting if f.declaration.logistics_no is None]
    await _gathered(
        ctx, [ask_waybills(fresh[i : i + MESSAGE_MAX]) for i in range(0, len(fresh), MESSAGE_MAX)]
    )
    await _gathered(ctx, [ask_waybill(f) for f in wanting if f.declaration.logistics_no is not None])
    await partners.record_answers(ctx, payments, waybills)
    return failed


async def _gathered(ctx: Context, calls: list[Coroutine[Any, Any, None]]) -> None:
    """As many at once as fill one of the partners' batched messages (SQLite: one writer, one at a
    time); the partners' answers are only recorded afterwards, all together."""
    gate = asyncio.Semaphore(1 if ctx.settings.is_sqlite else PARTNER_CONCURRENCY)

    async def gated(call: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await call

    await asyncio.gather(*(gated(call) for call in calls))


async def _with_waybills(ctx: Context, going: list[documents.Facts]) -> list[documents.Facts]:
    """The facts with the declarations as they are now (the waybill numbers just recorded)."""
    if not going:
        return going
    async with ctx.read() as conn:
        now = await declaring_repo.declarations_by_id(conn, [f.declaration.id for f in going])
    return [
        dataclasses.replace(f, declaration=now[f.declaration.id]) for f in going if f.declaration.id in now
    ]


async def _finish(ctx: Context, claimed: list[Declaration], failed: dict[int, str]) -> int:
    """One transaction: the complete ones declared (an outbox record each), the failed ones postponed
    each with its own reason and back-off. The others (none, normally) wait for their lease to end."""
    for declaration_id, error in failed.items():
        log.warning("declaration %s not sent yet: %s", declaration_id, mask_id_numbers_in(error))
    async with ctx.transaction() as tx:
        declared = await declaring_repo.mark_declared_many(
            tx.conn, [d.id for d in claimed if d.id not in failed], tx.now
        )
        await tx.emit_many(
            [
                (
                    "declaration.declared",
                    f"order:{d.order_no}",
                    {"order_no": d.order_no, "version": d.version, "logistics_no": d.logistics_no},
                )
                for d in declared
            ]
        )
        await milestones.reach_many_within(tx, [d.order_no for d in declared], Milestone.DECLARED)
        # Schema errors may quote a field's value: no ID number reaches the log or the table.
        await declaring_repo.postpone_many(
            tx.conn,
            [
                (
                    d.id,
                    d.attempts + 1,
                    mask_id_numbers_in(failed[d.id])[:2000],
                    tx.now + backoff(d.attempts + 1),
                )
                for d in claimed
                if d.id in failed
            ],
            tx.now,
        )
    return len(declared)
