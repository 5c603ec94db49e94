"""The payment provider behind one small interface. :class:`AlipayProvider` speaks Alipay's
open-platform protocol and serves both the real Alipay and the sandbox provider: which one is only a
matter of settings (gateway URL, app id) and of the keys the composition root hands it.

Failure policy: a provider call that fails (network, bad signature on the answer) returns a result
marked not ok and is retried by the worker; it never changes an order by itself."""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flashport.domain.payments import TradeReport


@dataclass(frozen=True)
class Buyer:
    """A real-name buyer: the name as on the resident ID card and the ID number, in clear. Made from
    the identity vault only for the one provider call that needs it; never logged nor stored."""

    name: str
    id_number: str = field(repr=False)  # a traceback or a debug log must not print the number


@dataclass(frozen=True)
class Checkout:
    """A trade to open. ``buyer``: the only person allowed to pay it (the order's checked-out buyer);
    the provider refuses anyone else at payment time. None only for orders without a checkout."""

    out_trade_no: str
    amount_fen: int
    subject: str
    deadline: datetime
    buyer: Buyer | None = None


@dataclass(frozen=True)
class Exchange:
    """One request to the provider and its raw answer, kept for audits (customs may ask)."""

    kind: str
    request: dict[str, Any]
    status_code: int | None
    response: str
    verified: bool


@dataclass(frozen=True)
class NotificationCheck:
    signature_valid: bool
    report: TradeReport | None
    reason: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundAnswer:
    ok: bool
    exchange: Exchange
    error: str = ""


class RefundProgress(enum.Enum):
    """Where the provider stands on one refund request (``out_request_no``), as a refund query tells."""

    MADE = "made"  # the money went back
    NOT_YET = "not_yet"  # the provider knows of no such refund (yet): ask again later
    REFUSED = "refused"  # the provider answered that it cannot make it, and why
    UNKNOWN = "unknown"  # no trustworthy answer (unreachable, bad signature): ask again later


@dataclass(frozen=True)
class RefundCheck:
    progress: RefundProgress
    exchange: Exchange
    reason: str = ""  # why it was refused, or why there is no answer


@dataclass(frozen=True)
class CustomsDeclarationRequest:
    """Asks the payment company to declare a paid trade to customs (it sends the CEB411 payment voucher
    itself). Idempotent on ``out_request_no``; a new ``out_request_no`` for an order already declared is
    a re-declaration (a change). ``order_no`` is the order customs matches the voucher with; the buyer,
    when given, is checked against the payer (see :attr:`CustomsDeclarationAnswer.identity_check`)."""

    out_trade_no: str
    trade_no: str
    order_no: str
    out_request_no: str
    amount_fen: int
    merchant_customs_code: str
    merchant_customs_name: str
    customs_place: str
    buyer_name: str | None = None
    buyer_id_number: str | None = None


@dataclass(frozen=True)
class CustomsDeclarationAnswer:
    """``ok``: the provider took the declaration (customs' verdict comes later, as a receipt).
    ``identity_check``: True when the buyer is the payer, False when not, None when not checked (no buyer
    given, or a repeated ``out_request_no``: the provider checks each declaration once)."""

    ok: bool
    exchange: Exchange
    declare_no: str = ""
    identity_check: bool | None = None
    error: str = ""


class PaymentProvider(abc.ABC):
    name: str

    @abc.abstractmethod
    def checkout_url(self, checkout: Checkout) -> str:
        """Where to send the buyer to pay."""

    @abc.abstractmethod
    def read_notification(self, form: Mapping[str, str]) -> NotificationCheck:
        """Verify and parse an asynchronous notification. Never raises for bad input."""

    @abc.abstractmethod
    async def query(self, out_trade_no: str) -> tuple[TradeReport | None, Exchange]:
        """The provider's current view of a trade (None: unknown trade or no trustworthy answer)."""

    @abc.abstractmethod
    async def refund(
        self, out_trade_no: str, trade_no: str, amount_fen: int, out_request_no: str, reason: str
    ) -> RefundAnswer:
        """Idempotent on ``out_request_no``."""

    @abc.abstractmethod
    async def check_refund(
        self, out_trade_no: str, trade_no: str, out_request_no: str, amount_fen: int
    ) -> RefundCheck:
        """Whether the refund ``out_request_no`` of ``amount_fen`` was made: how the platform learns
        the outcome of a refund the provider makes on its own (``payment_refunds`` "feed"). Never
        raises: no trustworthy answer is :attr:`RefundProgress.UNKNOWN`."""

    @abc.abstractmethod
    async def declare_to_customs(self, request: CustomsDeclarationRequest) -> CustomsDeclarationAnswer:
        """Precondition: the provider reported ``request.trade_no`` paid. Never raises for a provider
        that is unreachable or refuses: the answer is then not ok and says why; retry with the same
        ``out_request_no``."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
