"""Asking the partners to declare their documents: the payment company its payment voucher (CEB411),
the carrier its waybill (CEB511). Both requests are idempotent on the partner's side (out_request_no,
order number), so a retry after a lost answer does not declare twice. The payment company also checks
the buyer against the payer (``identity_check``); a failed check stops the declaration there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from lxml import etree

from flashport.adapters.db import declarations_repo, declaring_repo, payments_repo
from flashport.adapters.db.declarations_repo import Declaration
from flashport.adapters.logistics.interface import Waybill, WaybillRequest
from flashport.adapters.payments.interface import CustomsDeclarationRequest, Exchange
from flashport.ceb import AppType, Consignee, Enterprise
from flashport.ceb.xml import ceb, safe_parser
from flashport.services.context import Context
from flashport.services.customs import documents
from flashport.services.payments.refunds import record_exchange


class PartnerFailed(Exception):
    """A partner answered but did not do what was asked (its message says why)."""


class IdentityCheckFailed(PartnerFailed):
    """The payment company says the payer is not the order's buyer (``identity_check`` F): customs
    would refuse the order, so the declaration was stopped (rejected, with the reason) before the
    waybill and the inventory list."""


IDENTITY_CHECK_FAILED = "identity_check_failed"  # the rejection's reason code, for operators and buyers


def _request(ctx: Context, facts: documents.Facts, consignee: Consignee) -> WaybillRequest:
    order = facts.order
    return WaybillRequest(
        order_no=order.order_no,
        platform=Enterprise(ctx.settings.customs_platform_code, ctx.settings.customs_platform_name),
        trade_mode=facts.trade_mode,
        consignee=consignee,
        weight_kg=max(facts.net_weight_kg, Decimal("0.001")),
        goods_info="; ".join(f"{line.title} x{line.quantity}" for line in facts.lines)[:200],
        freight_fen=order.freight_fen,
        insured_fee_fen=0,
    )


def guid_of(waybill: Waybill) -> str:
    assert waybill.message is not None
    root = etree.fromstring(waybill.message, parser=safe_parser())
    return str(root.get("guid"))


async def _stop_for_identity(ctx: Context, declaration: Declaration, declare_no: str | None) -> None:
    """Rejected, as a customs rejection would be: an operator sees it with its reason and may
    re-declare; unfixed within the fix window, the buyer is refunded."""
    reason = (
        "the payment company's identity check failed: the person who paid is not the order's buyer "
        "(identity_check F); customs would refuse the order"
    )
    async with ctx.transaction() as tx:
        stopped = await declarations_repo.stop_pending(
            tx.conn,
            declaration,
            reason_code=IDENTITY_CHECK_FAILED,
            reason=reason,
            refund_after=tx.now + timedelta(seconds=ctx.settings.customs_fix_window_seconds),
            payment_declare_no=declare_no,
            now=tx.now,
        )
        if stopped:
            await tx.emit(
                "declaration.rejected",
                f"order:{declaration.order_no}",
                {
                    "order_no": declaration.order_no,
                    "version": declaration.version,
                    "reason_code": IDENTITY_CHECK_FAILED,
                    "reason": reason,
                },
            )


# --- for a batch: ask per order (concurrently, by the caller), record set-based -----------------------


@dataclass(frozen=True)
class PaymentDeclared:
    declaration: Declaration
    declare_no: str | None
    exchange: Exchange
    payment_id: int


async def ask_payment(ctx: Context, facts: documents.Facts) -> PaymentDeclared:
    """Ask the payment company to declare this order's payment voucher; the answer, to be recorded
    by the caller with others. Raises :class:`PartnerFailed` (its exchange is kept first) or
    :class:`IdentityCheckFailed` (the declaration is stopped first)."""
    declaration, order, payment = facts.declaration, facts.order, facts.payment
    answer = await ctx.payments.declare_to_customs(_payment_request(ctx, facts))
    if not answer.ok or answer.identity_check is False:
        await record_exchange(ctx, payment.id, answer.exchange)
    if not answer.ok:
        raise PartnerFailed(f"payment company did not declare the payment: {answer.error}")
    if answer.identity_check is False:
        await _stop_for_identity(ctx, declaration, answer.declare_no)
        raise IdentityCheckFailed(f"declaration of {order.order_no} stopped: the payer is not the buyer")
    return PaymentDeclared(declaration, answer.declare_no, answer.exchange, payment.id)


def _payment_request(ctx: Context, facts: documents.Facts) -> CustomsDeclarationRequest:
    s, declaration, order, payment = ctx.settings, facts.declaration, facts.order, facts.payment
    return CustomsDeclarationRequest(
        out_trade_no=payment.out_trade_no,
        trade_no=facts.trade_no,
        order_no=order.order_no,
        out_request_no=f"{order.order_no}D{declaration.version}",
        amount_fen=payment.amount_fen,
        merchant_customs_code=s.customs_platform_code,
        merchant_customs_name=s.customs_platform_name,
        customs_place=s.customs_place,
        buyer_name=facts.buyer.name,
        buyer_id_number=facts.buyer.id_number,
    )


async def ask_waybill(ctx: Context, facts: documents.Facts) -> Waybill:
    """Ask the carrier for this order's waybill (declared to customs), or to declare it again on a
    re-declaration. Raises what the carrier raises, or :class:`PartnerFailed`."""
    declaration = facts.declaration
    if declaration.logistics_no is None:
        waybill = await ctx.logistics.create_waybill(_request(ctx, facts, facts.consignee))
    else:
        waybill = await ctx.logistics.redeclare(declaration.logistics_no, facts.consignee)
    if not waybill.declared:
        raise PartnerFailed(f"carrier has not declared waybill {waybill.logistics_no} yet")
    return waybill


async def ask_waybills(ctx: Context, batch: Sequence[documents.Facts]) -> list[tuple[Declaration, Waybill]]:
    """The new waybills of a batch of orders (none has one yet) in one request to the carrier, each
    with its declaration, declared or not yet (the caller fails those alone). Raises what the carrier
    raises, for the whole batch."""
    given = await ctx.logistics.create_waybills([_request(ctx, f, f.consignee) for f in batch])
    return [(f.declaration, w) for f, w in zip(batch, given, strict=True)]


async def record_answers(
    ctx: Context, payments: Sequence[PaymentDeclared], waybills: Sequence[tuple[Declaration, Waybill]]
) -> None:
    """In one transaction: the exchanges with the payment company, each payment voucher declared,
    each waybill given, and the carrier's messages kept (each once, however many orders it carries)."""
    async with ctx.transaction() as tx:
        await payments_repo.record_exchanges(tx.conn, [(p.payment_id, p.exchange) for p in payments], tx.now)
        await declaring_repo.record_payments_declared(
            tx.conn, [(p.declaration, p.declare_no) for p in payments], tx.now
        )
        by_message: dict[str, tuple[bytes, list[declaring_repo.NewDocument]]] = {}
        read: dict[bytes, tuple[str, dict[str, str]]] = {}  # each message parsed once, not per waybill
        for declaration, waybill in waybills:
            if not waybill.message:
                continue
            app_type = AppType.NEW if declaration.logistics_no is None else AppType.CHANGE
            if waybill.message not in read:
                read[waybill.message] = heads_in(waybill.message)
            message_guid, heads = read[waybill.message]
            head_guid = heads.get(waybill.logistics_no, message_guid)
            document = declaring_repo.NewDocument(
                declaration.id, declaration.version, head_guid, app_type.value
            )
            by_message.setdefault(message_guid, (waybill.message, []))[1].append(document)
        for message_guid, (body, kept) in by_message.items():
            await declaring_repo.keep_partner_documents(
                tx.conn,
                kind="CEB511",
                party="logistics",
                message_guid=message_guid,
                body_cipher=ctx.vault.seal(body.decode("utf-8")),
                documents=kept,
                now=tx.now,
            )
        await declaring_repo.record_waybills(
            tx.conn,
            [
                declaring_repo.GivenWaybill(
                    declaration,
                    w.logistics_no,
                    w.logistics_code,
                    w.logistics_name,
                    w.bill_no,
                    w.traf_no,
                    w.voyage_no,
                )
                for declaration, w in waybills
            ],
            tx.now,
        )


def heads_in(message: bytes) -> tuple[str, dict[str, str]]:
    """The guid of a carrier's message and of each waybill's head in it, by waybill number (a
    waybill with no head of its number goes by the message's guid)."""
    root = etree.fromstring(message, parser=safe_parser())
    heads: dict[str, str] = {}
    for head in root.iterfind(f"{ceb('Logistics')}/{ceb('LogisticsHead')}"):
        heads.setdefault(str(head.findtext(ceb("logisticsNo"))), str(head.findtext(ceb("guid"))))
    return str(root.get("guid")), heads
