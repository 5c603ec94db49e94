"""What the two after-sales applications customs takes have in common: a return (CEB625, answered by a
CEB626, :mod:`.returns`) and a withdrawal before release (CEB623, answered by a CEB624,
:mod:`.withdrawals`). Both name an inventory list by ``invtNo``, are signed by the list's declarant,
are refused alike when screening or the signature fails, and are answered with the same business keys;
only the judging of an application differs, and each module passes its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from lxml import etree
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import Receipt, ReceiptKind, new_guid
from flashport.ceb.xml import CEB_NS, ceb, safe_parser
from flashport.sandbox_customs import reading, store
from flashport.sandbox_customs.certificates import Register
from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.office import Office
from flashport.sandbox_customs.reading import NotACebMessage
from flashport.sandbox_customs.refusals import joined
from flashport.sandbox_customs.screening import Screened
from flashport.sandbox_customs.statuses import PROCESSING_ERROR, REJECTED
from flashport.sandbox_customs.store import Declaration

# Signed by the list's declarant, as a CEB621 is: the same register entry (agentCode) signs both.
SIGNED_AS = DocumentKind.INVENTORY
KEYS = ("customsCode", "agentCode", "ebpCode", "ebcCode", "copNo", "preNo", "invtNo")

# (status, returnInfo, the list's preNo when one is on file) for one application's head.
Judge = Callable[[AsyncConnection, dict[str, str], Office, datetime], Awaitable[tuple[int, str, str | None]]]


def is_message(raw: bytes, kind: str) -> bool:
    """Whether ``raw`` is a ``<kind>Message`` (False for what is not XML at all)."""
    try:
        root = etree.fromstring(raw, parser=safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return False
    return bool(root.tag == f"{{{CEB_NS}}}{kind}Message")


async def receive_each(
    conn: AsyncConnection,
    raw: bytes,
    screened: Screened,
    register: Register | None,
    office: Office,
    now: datetime,
    *,
    kind: str,
    application: str,
    head_of: str | None,
    judge: Judge,
    receipt: ReceiptKind,
) -> str:
    """Answer each ``application`` element of a ``<kind>Message`` (its head the element itself, or its
    ``head_of`` child): refused when screening found a problem or, ``register`` given, the signature is
    missing or not the declarant's; else as ``judge`` decides. Returns the message guid. Raises
    ``NotACebMessage`` when there is no ``BaseTransfer/dxpId`` to answer to."""
    root = etree.fromstring(raw, parser=safe_parser())
    dxp_id = (root.findtext(f"{ceb('BaseTransfer')}/{ceb('dxpId')}") or "").strip()
    if not dxp_id:
        raise NotACebMessage(f"{kind}Message without BaseTransfer/dxpId: nowhere to send receipts")
    for node in root.findall(ceb(application)) or [None]:
        head = reading.children(node if node is None or head_of is None else node.find(ceb(head_of)))
        pre_no = None
        if screened.problem is not None:
            status, info = PROCESSING_ERROR, screened.problem
        elif register is not None and screened.signed_by is None:
            status, info = PROCESSING_ERROR, f"{kind} must carry ds:Signature"
        elif register is not None and (
            unregistered := register.refusal(SIGNED_AS, head, screened.signed_by or "")
        ):
            status, info = REJECTED, joined([unregistered])
        else:
            status, info, pre_no = await judge(conn, head, office, now)
        await answer(conn, dxp_id, head, pre_no, root.get("guid") or new_guid(), status, info, now, receipt)
    return root.get("guid") or ""


async def declaration_of(conn: AsyncConnection, order_no: str, ebp_code: str) -> Declaration | None:
    """The declaration on file for the order of this e-commerce platform, if any."""
    found = [d for d in await store.declarations_of(conn, order_no, ebp_code) if d.ebp_code == ebp_code]
    return found[0] if found else None


async def answer(
    conn: AsyncConnection,
    dxp_id: str,
    head: dict[str, str],
    pre_no: str | None,
    guid: str,
    status: int,
    info: str,
    at: datetime,
    kind: ReceiptKind = ReceiptKind.RETURN,
) -> None:
    """The receipt (CEB626, or ``kind``: CEB624 answers a CEB623 with the same keys) in the
    declarant's inbox, under the head's guid."""
    keys = {name: value for name in KEYS if (value := head.get(name))}
    if pre_no:
        keys["preNo"] = pre_no
    receipt = Receipt(kind, head.get("guid") or guid, keys, status, at, info[:1000])
    await store.post_receipt(conn, dxp_id, receipt, head.get("orderNo") or None)
