"""A customs declaration: the four documents of one paid order and where customs has got with them.

    pending ─all four sent─▶ declared ─2─▶ received ─120─▶ matched ─800/899─▶ released ──▶ shipped
       ▲                        │               │                │
       │                        ╰───────────────┴─ 100 / error ──┴─▶ rejected ─fix window─▶ refunded
       ╰───────── operator re-declares (next version, appType 2 "change") ─────╯

    while customs holds it:  ─300─▶ under_review ─399─▶ reviewed ─500─▶ inspection ─501-503/599─▶ detained
                             ─700─▶ returned (final); release (800) may follow any of the others

Receipts may arrive twice or out of order: a receipt only ever moves a declaration forward (by
:data:`PROGRESS`), never back, and a receipt about an older version of the documents is ignored.

What the inventory receipt's (CEB622) ``returnStatus`` means. The XSD does not list the codes; they
come from the single window's integration guides for cross-border e-commerce import (跨境电商进口统一版
接入说明), as summarised by platform integrators. A search of the stored reference corpora (pages and
docs, queries in Chinese and English) found no page that lists them, so the list below is the one the
integration guides give, written from them, not checked against an official page:

- ``2`` 发送海关成功: the single window handed the list to customs -> ``received``.
- ``3`` 发送海关失败: handing it over failed; the single window retries -> nothing changes.
- ``100`` 海关退单: customs refused the list; ``returnInfo`` says why (free Chinese text) -> ``rejected``.
- ``120`` 海关入库: taken in, order, payment and waybill match the list -> ``matched``.
- ``300`` 人工审核: a customs officer is reviewing the list by hand -> ``under_review``. Nothing to do
  but wait; the buyer sees "being checked by customs".
- ``399`` 海关审结: the review (or the automatic check) is finished; release or inspection follows
  -> ``reviewed``.
- ``500`` 查验: the parcel is to be physically inspected -> ``inspection``. The warehouse must present
  it; release usually follows.
- ``501`` 扣留移送通关, ``502`` 扣留移送缉私, ``503`` 扣留移送法规, ``599`` 其它扣留: customs detains the
  goods (handed to the clearance, anti-smuggling or legal department, or otherwise held) -> ``detained``,
  on the operator's worklist: a person must talk to customs, nothing automatic can cure it.
- ``700`` 退运: the goods are to be shipped back out of China -> ``returned`` (final), on the worklist:
  the operator settles with the buyer and the seller.
- ``800`` 放行: released -> ``released``; the parcel may ship.
- ``899`` 结关: customs closed the file. It only ever follows release, so it releases a declaration
  still waiting (a lost 800 does not block shipping) and changes nothing afterwards.
- negative (``-301010`` and the like) 处理失败: the message was not processed at all (schema, signature,
  a field customs' system refused); ``returnInfo`` says which. A fix and a re-declaration are needed
  -> ``rejected`` with reason ``processing_error``, on the worklist.

A declaration that cannot go on by itself (detained, returned, a processing error, or sending that kept
failing) is flagged *needs attention* with its reason: it is listed and counted on the operator's
declarations view and logged at error level once, when flagged.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class DeclarationState(enum.StrEnum):
    PENDING = "pending"  # documents still to send (or to resend after a failure)
    DECLARED = "declared"  # all four sent; waiting for customs
    RECEIVED = "received"  # customs has the inventory list and is matching
    MATCHED = "matched"  # order, payment and waybill agree with the inventory list
    UNDER_REVIEW = "under_review"  # 300: a customs officer reviews it by hand
    REVIEWED = "reviewed"  # 399: review finished; release or inspection follows
    INSPECTION = "inspection"  # 500: the parcel is to be inspected
    DETAINED = "detained"  # 501-503, 599: customs holds the goods; an operator must act
    RELEASED = "released"  # customs released the parcel: it may ship
    SHIPPED = "shipped"  # handed to the carrier
    REJECTED = "rejected"  # customs refused it; the reason says why
    REFUNDED = "refunded"  # not fixed within the fix window: the buyer got the money back
    RETURNED = "returned"  # 700: customs sends the goods back abroad; an operator settles it


PROGRESS = {
    DeclarationState.PENDING: 0,
    DeclarationState.DECLARED: 1,
    DeclarationState.RECEIVED: 2,
    DeclarationState.MATCHED: 3,
    DeclarationState.UNDER_REVIEW: 4,
    DeclarationState.REVIEWED: 5,
    DeclarationState.INSPECTION: 6,
    DeclarationState.DETAINED: 7,
    DeclarationState.RELEASED: 8,
    DeclarationState.SHIPPED: 9,
}
# States a customs verdict can still reach; rejected, refunded, returned and shipped are settled.
AWAITING_CUSTOMS = (
    DeclarationState.DECLARED,
    DeclarationState.RECEIVED,
    DeclarationState.MATCHED,
    DeclarationState.UNDER_REVIEW,
    DeclarationState.REVIEWED,
    DeclarationState.INSPECTION,
    DeclarationState.DETAINED,
)
REDECLARABLE = (DeclarationState.REJECTED,)
# Verdicts that end customs' part whatever it had got to (not "forward" in PROGRESS).
_TERMINAL_VERDICTS = (DeclarationState.REJECTED, DeclarationState.RETURNED)

# Inventory receipt (CEB622) statuses: see the module docstring.
STATUS_RECEIVED = 2
STATUS_MATCHED = 120
STATUS_REJECTED = 100
STATUS_MANUAL_REVIEW = 300
STATUS_REVIEWED = 399
STATUS_INSPECTION = 500
STATUS_DETAINED = frozenset({501, 502, 503, 599})
STATUS_RETURNED = 700
STATUS_RELEASED = 800
STATUS_CLOSED = 899
PROCESSING_ERROR = "processing_error"
DETAINED = "detained"
RETURNED = "returned"
ANNUAL_LIMIT = "annual_limit_exceeded"
SINGLE_LIMIT = "single_limit_exceeded"
# Rejections no correction can cure: the buyer's purchases are what they are. Refunded at once rather
# than after the fix window.
BEYOND_REPAIR = frozenset({ANNUAL_LIMIT, SINGLE_LIMIT})
# Reason codes that put a declaration on the operator's worklist when customs gives them.
NEEDS_ATTENTION = frozenset({PROCESSING_ERROR, DETAINED, RETURNED})

_REASON = re.compile(r"^\s*\[([a-z_]+)\]\s*(.*)$", re.DOTALL)
# Customs' own wording of its limit rejections ("超过个人年度交易限值", "订购人年度额度超限",
# "超过单次限值", "单笔交易金额超过限值"...): a year ("年度") or a single deal ("单次", "单笔") near a limit
# ("限值", "限额", "额度", "超限").
_ANNUAL_WORDS = re.compile(r"年度.{0,8}(限值|限额|额度|超限)")
_SINGLE_WORDS = re.compile(r"(单次|单笔).{0,8}(限值|限额|额度|超限)")


@dataclass(frozen=True)
class Verdict:
    """What one receipt does to a declaration."""

    state: DeclarationState
    reason_code: str | None = None
    reason: str | None = None

    @property
    def needs_attention(self) -> bool:
        """Whether the declaration cannot go on without a person: it goes on the worklist."""
        return self.reason_code in NEEDS_ATTENTION


def inventory_verdict(status: int, info: str) -> Verdict | None:
    """The move a CEB622 status asks for; None for statuses that change nothing here (3 sent to customs
    failed, retried by the single window). Negative statuses are processing errors: the declaration
    cannot go on as sent."""
    if status < 0:
        return Verdict(DeclarationState.REJECTED, PROCESSING_ERROR, info)
    if status == STATUS_REJECTED:
        code, text = reason_of(info)
        return Verdict(DeclarationState.REJECTED, code, text)
    if status in STATUS_DETAINED:
        return Verdict(DeclarationState.DETAINED, DETAINED, f"[{status}] {info}".strip())
    if status == STATUS_RETURNED:
        return Verdict(DeclarationState.RETURNED, RETURNED, f"[{status}] {info}".strip())
    return {
        STATUS_RECEIVED: Verdict(DeclarationState.RECEIVED),
        STATUS_MATCHED: Verdict(DeclarationState.MATCHED),
        STATUS_MANUAL_REVIEW: Verdict(DeclarationState.UNDER_REVIEW),
        STATUS_REVIEWED: Verdict(DeclarationState.REVIEWED),
        STATUS_INSPECTION: Verdict(DeclarationState.INSPECTION),
        STATUS_RELEASED: Verdict(DeclarationState.RELEASED),
        STATUS_CLOSED: Verdict(DeclarationState.RELEASED),
    }.get(status)


def other_receipt_verdict(status: int, info: str) -> Verdict | None:
    """Receipts of the order message (CEB312): only an error stops the declaration."""
    if status < 0:
        return Verdict(DeclarationState.REJECTED, PROCESSING_ERROR, info)
    return None


def reason_of(info: str) -> tuple[str, str]:
    """``"[payer_mismatch] payer ..."`` -> ``("payer_mismatch", "payer ...")``. Customs' own text has no
    code: a limit it names in its words gets the limit's code (so it is refunded at once), anything
    else is kept whole under ``rejected``."""
    found = _REASON.match(info)
    if found is not None:
        return found.group(1), found.group(2).strip()
    text = info.strip()
    if _ANNUAL_WORDS.search(text):
        return ANNUAL_LIMIT, text
    if _SINGLE_WORDS.search(text):
        return SINGLE_LIMIT, text
    return "rejected", text


def fix_window_applies(verdict: Verdict) -> bool:
    """Whether a rejection waits for an operator's fix before the buyer is refunded."""
    return verdict.reason_code not in BEYOND_REPAIR


def applies(current: DeclarationState, verdict: Verdict) -> bool:
    """Whether ``verdict`` moves a declaration in ``current``: forward only, and a rejection or a return
    only while customs still holds the documents (a released parcel is never un-released by a stale
    receipt)."""
    if current not in AWAITING_CUSTOMS:
        return False
    if verdict.state in _TERMINAL_VERDICTS:
        return True
    return PROGRESS[verdict.state] > PROGRESS[current]
