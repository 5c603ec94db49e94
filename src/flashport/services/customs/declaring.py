"""The worker's declaring job: for each pending declaration, the four documents of its current version.

Steps, each done once per version and remembered in its own column, so a failure resumes where it
stopped instead of sending anything twice:

1. the order (CEB311), sent by the platform;
2. the payment voucher (CEB411), declared by the payment company at the platform's request;
3. the waybill (CEB511), declared by the carrier when it gives the parcel its waybill number;
4. the inventory list (CEB621), signed, declared by the platform as the customs agent; it needs the
   waybill number (and, for direct imports, the flight and master waybill) from step 3.

Failure policy: a partner or the single window unreachable, refusing, or data missing leaves the
declaration pending with ``last_error`` and an exponential back-off; nothing moves until all four are
sent. Two workers never declare the same declaration at once: each claims it with a conditional update.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Literal

from flashport.adapters.customs.gateway import CustomsRefused, CustomsUnavailable
from flashport.adapters.db import declarations_repo
from flashport.adapters.db.declarations_repo import Declaration, Due
from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.adapters.logistics.interface import LogisticsRefused, LogisticsUnavailable
from flashport.ceb import AppType, CustomsMessageError, inventory_message, order_message
from flashport.domain.declarations import DeclarationState
from flashport.services.context import Context
from flashport.services.customs import bounded, documents, messages, partners
from flashport.services.customs.documents import NotDeclarable
from flashport.services.payments.refunds import backoff

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a claimed declaration is left alone this long by other workers
RETRYABLE = (
    CustomsUnavailable,
    CustomsRefused,
    LogisticsUnavailable,
    LogisticsRefused,
    partners.PartnerFailed,
    NotDeclarable,
    CustomsMessageError,
)


async def declare_pending(ctx: Context, *, batch: int = 500) -> int:
    """Send the documents of due pending declarations, several at once (:mod:`.bounded`); returns how
    many became fully declared."""
    async with ctx.read() as conn:
        due = await declarations_repo.due_pending(conn, ctx.clock(), batch)

    async def declare_one(item: Due) -> int:
        if not await _claim(ctx, item):
            return 0
        return await _declare(ctx, item.id)

    return await bounded.each(ctx.settings, due, declare_one, "declaring")


async def _claim(ctx: Context, due: Due) -> bool:
    async with ctx.transaction() as tx:
        return await declarations_repo.claim(tx.conn, due, tx.now + LEASE)


async def _declare(ctx: Context, declaration_id: int) -> int:
    try:
        await _send_order(ctx, declaration_id)
        await partners.declare_payment(ctx, declaration_id)
        await partners.request_waybill(ctx, declaration_id)
        await _send_inventory(ctx, declaration_id)
    except RETRYABLE as exc:
        # Schema errors may quote a field's value: no ID number reaches the log or the table.
        await _postpone(ctx, declaration_id, mask_id_numbers_in(f"{type(exc).__name__}: {exc}"))
        return 0
    return await _mark_declared(ctx, declaration_id)


async def _send_order(ctx: Context, declaration_id: int) -> None:
    async with ctx.read() as conn:
        facts = await documents.load(ctx, conn, declaration_id)
    declaration = facts.declaration
    if declaration.order_sent_version >= declaration.version:
        return
    content = documents.order_declaration(ctx, facts)
    sender = documents.platform_sender(ctx)

    def build(guid: str, app_type: AppType) -> bytes:
        return order_message(content, sender, app_type, guid=guid)

    await messages.send_once(ctx, declaration, "CEB311", build)
    await _step_done(ctx, declaration, "order")


async def _send_inventory(ctx: Context, declaration_id: int) -> None:
    async with ctx.read() as conn:
        facts = await documents.load(ctx, conn, declaration_id)
    declaration = facts.declaration
    if declaration.inventory_sent_version >= declaration.version:
        return
    content = documents.inventory_declaration(ctx, facts, ctx.clock().date())
    sender = documents.platform_sender(ctx)

    def build(guid: str, app_type: AppType) -> bytes:
        return inventory_message(content, sender, app_type, signer=documents.signer(ctx), guid=guid)

    await messages.send_once(ctx, declaration, "CEB621", build)
    await _step_done(ctx, declaration, "inventory")


async def _step_done(ctx: Context, declaration: Declaration, document: Literal["order", "inventory"]) -> None:
    async with ctx.transaction() as tx:
        await declarations_repo.record_document_sent(tx.conn, declaration, document, tx.now)


async def _postpone(ctx: Context, declaration_id: int, error: str) -> None:
    log.warning("declaration %s not sent yet: %s", declaration_id, error)
    async with ctx.transaction() as tx:
        attempts = await declarations_repo.attempts_of(tx.conn, declaration_id) + 1
        await declarations_repo.postpone(
            tx.conn,
            declaration_id,
            attempts=attempts,
            error=error[:2000],
            retry_at=tx.now + backoff(attempts),
            now=tx.now,
        )


async def _mark_declared(ctx: Context, declaration_id: int) -> int:
    async with ctx.transaction() as tx:
        declaration = await declarations_repo.get(tx.conn, declaration_id)
        if declaration.state is not DeclarationState.PENDING or not declaration.documents_complete:
            return 0
        await declarations_repo.mark_declared(tx.conn, declaration_id, tx.now)
        await tx.emit(
            "declaration.declared",
            f"order:{declaration.order_no}",
            {
                "order_no": declaration.order_no,
                "version": declaration.version,
                "logistics_no": declaration.logistics_no,
            },
        )
    return 1
