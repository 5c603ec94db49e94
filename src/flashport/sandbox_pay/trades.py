"""What the sandbox knows about a trade, in plain Python: states, amounts, numbers and clocks."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from flashport.adapters.payments import alipay_protocol

# China has one zone and no daylight saving time, so a fixed offset is exact.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
MAX_TOTAL_FEN = 100_000_000 * 100  # Alipay's ceiling for one trade: 100,000,000 yuan
_YUAN = re.compile(r"(\d{1,9})(?:\.(\d{1,2}))?")


class TradeStatus(StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    TRADE_SUCCESS = "TRADE_SUCCESS"
    TRADE_CLOSED = "TRADE_CLOSED"  # unpaid and closed, or paid and then refunded in full
    TRADE_FINISHED = "TRADE_FINISHED"


@dataclass(frozen=True)
class Trade:
    trade_no: str
    app_id: str
    out_trade_no: str
    subject: str
    total_fen: int
    status: TradeStatus
    notify_url: str | None
    return_url: str | None
    created_at: datetime
    expires_at: datetime | None = None
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    payer_name: str | None = None
    payer_cert_no: str | None = None
    buyer_id: str | None = None

    @property
    def total_amount(self) -> str:
        return alipay_protocol.yuan(self.total_fen)

    @property
    def is_paid(self) -> bool:
        """Money moved at some point (a fully refunded trade is closed, but was paid)."""
        return self.paid_at is not None

    def is_expired(self, now: datetime) -> bool:
        return (
            self.status is TradeStatus.WAIT_BUYER_PAY
            and self.expires_at is not None
            and now >= self.expires_at
        )


@dataclass(frozen=True)
class SpecifiedBuyer:
    """Who alone may pay a trade: Alipay's ``ext_user_info`` with ``need_check_info`` = ``T``. As with
    Alipay, only the items given are checked (a name, a resident ID number, or both; the sandbox knows
    no ID type but the resident ID card)."""

    name: str | None
    cert_no: str | None = field(repr=False)

    def is_payer(self, name: str, cert_no: str) -> bool:
        """The name exactly as on the ID card (Unicode-normalised, nothing folded) and the same number."""
        same_number = self.cert_no is None or self.cert_no.upper() == cert_no.strip().upper()
        return same_number and (self.name is None or same_name(self.name, name))


def same_name(first: str, second: str) -> bool:
    return unicodedata.normalize("NFC", first.strip()) == unicodedata.normalize("NFC", second.strip())


@dataclass(frozen=True)
class Refund:
    out_request_no: str
    refund_fen: int
    reason: str | None
    created_at: datetime
    refunded_total_fen: int  # all refunds of the trade up to and including this one


def fen_from_yuan(text: str) -> int | None:
    """``"99"``, ``"99.5"`` or ``"99.50"`` -> 9950 fen; None for anything else (never a float)."""
    match = _YUAN.fullmatch(text.strip())
    if match is None:
        return None
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def now_utc() -> datetime:
    return datetime.now(UTC)


def china_time(moment: datetime) -> str:
    """Alipay's ``yyyy-MM-dd HH:mm:ss`` in China Standard Time."""
    return alipay_protocol.timestamp(moment.astimezone(CHINA_STANDARD_TIME))


def parse_china_time(text: str) -> datetime | None:
    for layout in (alipay_protocol.TIME_FORMAT, "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text.strip(), layout).replace(tzinfo=CHINA_STANDARD_TIME)
        except ValueError:
            continue
    return None


def new_trade_no(now: datetime) -> str:
    """28 digits like Alipay's: the day in China, the ``22001`` channel mark, 15 random digits."""
    day = now.astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d")
    return f"{day}22001{secrets.randbelow(10**15):015d}"


def buyer_id_for(payer_cert_no: str) -> str:
    """A stable ``2088...`` user id per payer, so one person looks like one Alipay account."""
    digest = hashlib.sha256(payer_cert_no.upper().encode()).digest()
    return f"2088{int.from_bytes(digest[:8], 'big') % 10**12:012d}"
