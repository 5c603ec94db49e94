"""The sandbox provider's operations: open, pay, decline, close and refund a trade, and resend its
notification; declaring to customs is its ``customs`` desk's. HTTP handlers parse and call these; these
decide, write, and sign.

Preconditions shared by all: the database is started, and the caller has authenticated the merchant
(a signed gateway request) or is a sandbox-only convenience route.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from flashport.adapters.payments import alipay_protocol
from flashport.sandbox_pay import wire
from flashport.sandbox_pay.customs import CustomsDesk
from flashport.sandbox_pay.delivery_queue import Delivery, DeliveryQueue
from flashport.sandbox_pay.identity import is_resident_id_number
from flashport.sandbox_pay.keys import SandboxKeys
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.sandbox_pay.store import FeedRecord, TradeStore
from flashport.sandbox_pay.trades import (
    MAX_TOTAL_FEN,
    Refund,
    SpecifiedBuyer,
    Trade,
    TradeStatus,
    buyer_id_for,
    new_trade_no,
    now_utc,
)
from flashport.sandbox_pay.wire import GatewayError, business_error

# The sandbox's own code: Alipay's cashier refuses such a payment, but its exact code is not public.
PAYER_NOT_BUYER = "ACQ.PAYER_NOT_SPECIFIED_BUYER"
PAYER_NOT_BUYER_MESSAGE = (
    "Only the buyer named on this order can pay it: the payer's name and ID number must be the buyer's."
)


class SandboxProvider:
    def __init__(
        self,
        settings: SandboxSettings,
        keys: SandboxKeys,
        trades: TradeStore,
        deliveries: DeliveryQueue,
        wake_sender: Callable[[], None],
        customs: CustomsDesk,
        feed: FeedRecord,
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.trades = trades
        self.feed = feed
        self.deliveries = deliveries
        self.customs = customs
        self._wake_sender = wake_sender
        self._signing_key = alipay_protocol.load_private_key(keys.provider_private)
        self.merchant_key = alipay_protocol.load_public_key(
            settings.merchant_public_key or keys.merchant_public
        )

    def respond(self, method: str, node: dict[str, Any]) -> str:
        return alipay_protocol.signed_response(method, node, self._signing_key)

    def signed_return(self, trade: Trade) -> dict[str, str]:
        params = wire.return_params(trade, seller_id=self.settings.seller_id, now=self.clock())
        return alipay_protocol.signed_notification(params, self._signing_key)

    async def find(self, *, out_trade_no: str | None = None, trade_no: str | None = None) -> Trade:
        """The trade, closed first if its time ran out unpaid; ACQ.TRADE_NOT_EXIST if there is none."""
        trade = await self.trades.find(self.settings.app_id, out_trade_no=out_trade_no, trade_no=trade_no)
        if trade is None:
            raise wire.trade_not_found()
        return await self._closed_if_expired(trade)

    async def by_trade_no(self, trade_no: str) -> Trade:
        trade = await self.trades.by_trade_no(trade_no)
        if trade is None or trade.app_id != self.settings.app_id:
            raise wire.trade_not_found()
        return await self._closed_if_expired(trade)

    async def _closed_if_expired(self, trade: Trade) -> Trade:
        now = self.clock()
        if not trade.is_expired(now):
            return trade
        # Like Alipay, a trade closed by its own timeout sends no notification.
        await self.trades.transition(
            trade, replace(trade, status=TradeStatus.TRADE_CLOSED, closed_at=now), None, now
        )
        return await self.by_trade_no(trade.trade_no)

    async def open(
        self,
        *,
        out_trade_no: str,
        subject: str,
        total_fen: int,
        urls: tuple[str | None, str | None],
        expires_at: datetime | None,
        buyer: SpecifiedBuyer | None = None,
    ) -> Trade:
        """The trade for this ``out_trade_no``, made on first sight, payable by ``buyer`` alone when
        given. Shown again as long as the amount and the buyer are the same; a different amount or
        buyer for the same number is refused, as Alipay refuses a changed trade."""
        if not 0 < total_fen <= MAX_TOTAL_FEN:
            raise business_error("ACQ.INVALID_PARAMETER", "total_amount out of range")
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise business_error("ACQ.INVALID_PARAMETER", "time_expire has already passed")
        notify_url, return_url = urls
        fresh = Trade(
            trade_no=new_trade_no(now),
            app_id=self.settings.app_id,
            out_trade_no=out_trade_no,
            subject=subject,
            total_fen=total_fen,
            status=TradeStatus.WAIT_BUYER_PAY,
            notify_url=notify_url,
            return_url=return_url,
            created_at=now,
            expires_at=expires_at,
        )
        trade, opened_for = await self.trades.create(fresh, buyer)
        if trade.total_fen != total_fen:
            raise business_error(
                "ACQ.CONTEXT_INCONSISTENT", "this out_trade_no was opened with another amount"
            )
        if opened_for != buyer:
            raise business_error(
                "ACQ.CONTEXT_INCONSISTENT", "this out_trade_no was opened for another buyer (ext_user_info)"
            )
        return await self._closed_if_expired(trade)

    async def pay(self, trade: Trade, payer_name: str, payer_cert_no: str, *, notify: bool = True) -> Trade:
        payer_name, payer_cert_no = payer_name.strip(), payer_cert_no.strip().upper()
        if not 0 < len(payer_name) <= 64:
            raise business_error("ACQ.INVALID_PARAMETER", "the payer's name is required")
        if not is_resident_id_number(payer_cert_no):
            raise business_error("ACQ.INVALID_PARAMETER", "the payer's ID number is not a valid resident ID")
        self._require_unpaid(trade)
        specified = await self.trades.specified_buyer(trade.trade_no)
        if specified is not None and not specified.is_payer(payer_name, payer_cert_no):
            # As Alipay with need_check_info=T: the payment fails; the trade stays open for its buyer.
            raise business_error(PAYER_NOT_BUYER, PAYER_NOT_BUYER_MESSAGE)
        now = self.clock()
        paid = replace(
            trade,
            status=TradeStatus.TRADE_SUCCESS,
            paid_at=now,
            payer_name=payer_name,
            payer_cert_no=payer_cert_no,
            buyer_id=buyer_id_for(payer_cert_no),
        )
        return await self._move(trade, paid, notify, now)

    async def decline(self, trade: Trade) -> Trade:
        """The buyer walked away: the trade closes and the merchant is told (a TRADE_CLOSED notification)."""
        if trade.status is TradeStatus.TRADE_CLOSED and not trade.is_paid:
            return trade
        self._require_unpaid(trade)
        now = self.clock()
        return await self._move(
            trade, replace(trade, status=TradeStatus.TRADE_CLOSED, closed_at=now), True, now
        )

    async def close(self, trade: Trade) -> Trade:
        """The merchant gave up on an unpaid trade. No notification: the merchant asked for it."""
        if trade.status is TradeStatus.TRADE_CLOSED and not trade.is_paid:
            return trade
        if trade.status is not TradeStatus.WAIT_BUYER_PAY:
            raise business_error("ACQ.TRADE_STATUS_ERROR", "a paid trade cannot be closed; refund it")
        now = self.clock()
        return await self._move(
            trade, replace(trade, status=TradeStatus.TRADE_CLOSED, closed_at=now), False, now
        )

    def _require_unpaid(self, trade: Trade) -> None:
        if trade.is_paid:
            raise business_error("ACQ.TRADE_HAS_SUCCESS", "the trade has already been paid")
        if trade.status is not TradeStatus.WAIT_BUYER_PAY:
            raise business_error("ACQ.TRADE_HAS_CLOSE", "the trade is closed")

    async def _move(self, before: Trade, after: Trade, notify: bool, now: datetime) -> Trade:
        message = self._notification(after, now) if notify and after.notify_url else None
        if not await self.trades.transition(before, after, message, now):
            # Someone else moved it first (a double click, a concurrent decline): judge the trade as it is.
            self._require_unpaid(await self.by_trade_no(before.trade_no))
        if message is not None:
            self._wake_sender()
        return after

    def _notification(self, trade: Trade, now: datetime) -> dict[str, str]:
        params = wire.notification(
            trade, notify_id=uuid.uuid4().hex, seller_id=self.settings.seller_id, now=now
        )
        return alipay_protocol.signed_notification(params, self._signing_key)

    async def renotify(self, trade: Trade) -> Delivery | None:
        """Send the trade's last notification once more, unchanged: the same ``notify_id`` and signature,
        exactly as Alipay's own resends look (a duplicate the merchant must absorb)."""
        last = await self.deliveries.latest(trade.trade_no)
        if last is None:
            return None
        await self.deliveries.queue(trade.trade_no, last.url, last.params, self.clock())
        self._wake_sender()
        return await self.deliveries.latest(trade.trade_no)

    async def refund(
        self, trade: Trade, out_request_no: str, refund_fen: int, reason: str | None
    ) -> dict[str, Any]:
        """Idempotent on ``out_request_no``: the same request again answers the same, with no money moved."""
        now = self.clock()

        def decide(trade: Trade, earlier: list[Refund]) -> tuple[Refund, Trade]:
            for refund in earlier:
                if refund.out_request_no == out_request_no:
                    if refund.refund_fen != refund_fen:
                        raise business_error(
                            "ACQ.INVALID_PARAMETER", "out_request_no was used for another amount"
                        )
                    return refund, trade
            if not trade.is_paid:
                raise business_error("ACQ.TRADE_STATUS_ERROR", "the trade has not been paid")
            refunded = (earlier[-1].refunded_total_fen if earlier else 0) + refund_fen
            if refunded > trade.total_fen:
                raise business_error("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "refunds would exceed the amount paid")
            refund = Refund(out_request_no, refund_fen, reason, now, refunded)
            if refunded < trade.total_fen:
                return refund, trade
            # Alipay closes a trade whose whole amount went back to the buyer.
            return refund, replace(trade, status=TradeStatus.TRADE_CLOSED, closed_at=now)

        after, refund, moved = await self.trades.refund(trade.trade_no, decide)
        return wire.refund_node(after, refund, fund_change=moved)

    async def refund_asked(
        self, trade_no: str, out_request_no: str, refund_fen: int, reason: str | None
    ) -> bool:
        """A refund the platform asked for in the payment company's feed: made once per
        ``out_request_no`` (a replayed event answers as before), or, when it cannot be made (an unknown
        or unpaid trade, more than was paid, the number used for another amount), its refusal kept so
        the refund query tells the platform why. True when the refund stands made."""
        try:
            trade = await self.by_trade_no(trade_no)
            await self.refund(trade, out_request_no, refund_fen, reason)
        except GatewayError as refusal:
            await self.feed.refuse(out_request_no, trade_no, refusal.sub_code, refusal.sub_msg, self.clock())
            return False
        return True

    async def refund_status(self, trade: Trade, out_request_no: str) -> dict[str, Any]:
        """Alipay's refund query node: ``refund_status`` REFUND_SUCCESS for a refund made; a refusal
        kept from the feed is answered as the error the refund met (a sandbox convention: Alipay
        answers a refund it did not make as success without ``refund_status``, as here for a number
        it has not seen)."""
        for refund in await self.trades.refunds(trade.trade_no):
            if refund.out_request_no == out_request_no:
                return wire.refund_query_node(trade, refund)
        refused = await self.feed.refusal(out_request_no)
        if refused is not None:
            raise business_error(*refused)
        return wire.refund_query_node(trade, None, out_request_no)
