"""Withdrawing a refunded declaration: the buyer has the money back and no parcel will leave, so the
inventory list and the order are deleted at customs (appType 3) and the carrier cancels its waybill
(declaring its own deletion). A list customs had accepted was withdrawn by a CEB623 already
(:mod:`flashport.services.aftersales.withdrawals`) and is not deleted again. Each step is idempotent
and the whole is retried until it is done."""

from __future__ import annotations

import logging
from datetime import timedelta

from flashport.adapters.customs.gateway import CustomsRefused, CustomsUnavailable
from flashport.adapters.db import cancellations_repo, declarations_repo, stages_repo
from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.adapters.logistics.interface import LogisticsRefused, LogisticsUnavailable
from flashport.ceb import AppType, CustomsMessageError, inventory_message, order_message
from flashport.services.context import Context
from flashport.services.customs import bounded, documents, messages
from flashport.services.customs.documents import NotDeclarable
from flashport.services.customs.partners import guid_of

log = logging.getLogger(__name__)

# A leased declaration is this worker's for this long (a withdrawal is a few partner calls).
LEASE = timedelta(minutes=2)
RETRY_AFTER = timedelta(seconds=30)
BATCH = 50

FAILURES = (
    CustomsUnavailable,
    CustomsRefused,
    LogisticsUnavailable,
    LogisticsRefused,
    NotDeclarable,
    CustomsMessageError,
)


async def withdraw_refunded(ctx: Context, *, batch: int = BATCH) -> int:
    """Withdraw the documents of refunded declarations; returns how many were withdrawn.

    The batch is leased in one short transaction (``FOR UPDATE SKIP LOCKED``: another worker takes
    others) and withdrawn a bounded number at a time; one whose partner failed waits
    :data:`RETRY_AFTER` before the next try."""
    async with ctx.transaction() as tx:
        ids = await stages_repo.lease_refunded_not_withdrawn(tx.conn, tx.now, tx.now + LEASE, batch)
    failed: list[int] = []

    async def withdraw_one(declaration_id: int) -> int:
        try:
            return await _withdraw(ctx, declaration_id)
        except FAILURES as exc:
            failed.append(declaration_id)
            log.warning("declaration %s not withdrawn yet: %s", declaration_id, mask_id_numbers_in(str(exc)))
            return 0

    withdrawn = await bounded.each(ctx.settings, ids, withdraw_one, "withdrawal")
    if failed:
        async with ctx.transaction() as tx:
            await stages_repo.retry_later(tx.conn, failed, tx.now + RETRY_AFTER)
    return withdrawn


async def _withdraw(ctx: Context, declaration_id: int) -> int:
    async with ctx.read() as conn:
        facts = await documents.load(ctx, conn, declaration_id, any_payment=True)
        # A list customs had accepted went on a CEB623 (services.aftersales.withdrawals): not on file.
        list_withdrawn = await cancellations_repo.withdrawn_by_ceb623(conn, facts.declaration.order_no)
    declaration, sender = facts.declaration, documents.platform_sender(ctx)
    if declaration.logistics_no is not None and declaration.inventory_sent_version and not list_withdrawn:
        inventory = documents.inventory_declaration(ctx, facts, ctx.clock().date())

        def build_inventory(guid: str, app_type: AppType) -> bytes:
            return inventory_message(inventory, sender, app_type, signer=documents.signer(ctx), guid=guid)

        await messages.send_once(ctx, declaration, "CEB621", build_inventory, deleting=True)
    if declaration.order_sent_version:
        order = documents.order_declaration(ctx, facts)

        def build_order(guid: str, app_type: AppType) -> bytes:
            return order_message(order, sender, app_type, guid=guid)

        await messages.send_once(ctx, declaration, "CEB311", build_order, deleting=True)
    if declaration.logistics_no is not None:
        waybill = await ctx.logistics.cancel(declaration.logistics_no)
        if waybill.message:
            await messages.record(
                ctx, declaration, "CEB511", "logistics", AppType.DELETE, guid_of(waybill), waybill.message
            )
    async with ctx.transaction() as tx:
        if not await declarations_repo.mark_withdrawn(tx.conn, declaration_id, tx.now):
            return 0
        await tx.emit(
            "declaration.withdrawn", f"order:{declaration.order_no}", {"order_no": declaration.order_no}
        )
    return 1
