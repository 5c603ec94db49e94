"""Filing one checked message: the appType rules, the document record, the declaration's state, the
three-document match and every receipt they cause. :func:`file_message` must run inside one write
transaction (the caller's), so the match sees a consistent set of documents and releases once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import AppType
from flashport.sandbox_customs import inbox, store
from flashport.sandbox_customs.documents import (
    DocumentKind,
    InventoryFacts,
    OrderFacts,
    PaymentFacts,
    WaybillFacts,
)
from flashport.sandbox_customs.judging import judge
from flashport.sandbox_customs.office import Office
from flashport.sandbox_customs.reading import Incoming
from flashport.sandbox_customs.refusals import (
    DUPLICATE_COP_NO,
    DUPLICATE_PAYMENT,
    DUPLICATE_WAYBILL,
    Refusal,
)
from flashport.sandbox_customs.statuses import (
    ACCEPTED,
    OPEN_STATES,
    PROCESSING_ERROR,
    RECEIVED_DECLARING,
    REJECTED,
    DeclarationState,
)
from flashport.sandbox_customs.store import Declaration, FiledDocument
from flashport.sandbox_customs.tables import CURRENT, DELETION

_DUPLICATE = {
    DocumentKind.WAYBILL: (DUPLICATE_WAYBILL, "运单编号", "waybill number"),
    DocumentKind.PAYMENT: (DUPLICATE_PAYMENT, "支付交易编号", "payment transaction id"),
    DocumentKind.INVENTORY: (DUPLICATE_COP_NO, "企业内部编号copNo", "copNo"),
}


async def duplicate(conn: AsyncConnection, incoming: Incoming, ebp_code: str) -> Refusal | None:
    """A waybill number, payment transaction id or copNo already used by another order."""
    kind = incoming.envelope.kind
    key = store.unique_key(kind, incoming.envelope.head)
    if key is None:
        return None
    other = await store.holder_of(conn, kind, key, incoming.facts.order_no, ebp_code)
    if other is None:
        return None
    code, chinese, english = _DUPLICATE[kind]
    return Refusal(
        code,
        f"{chinese}{key[1]}已被订单{other}使用",
        f"{english} {key[1]} of {key[0]} is already declared for order {other}",
    )


def _platform_of(facts: object) -> str:
    """Order, payment and inventory list carry the platform (ebpCode) they join by; the waybill
    does not, and joins by the waybill number the inventory list names."""
    if isinstance(facts, OrderFacts | InventoryFacts | PaymentFacts):
        return facts.ebp_code
    return ""


def refusal(
    kind: DocumentKind,
    order_no: str,
    app_type: str,
    on_file: FiledDocument | None,
    declarations: list[Declaration],
) -> str | None:
    """Why a message with ``app_type`` cannot be filed given what is on file, or None."""
    what = f"{kind.value} of order {order_no}"
    if app_type not in set(AppType):
        return f"appType {app_type!r} is not 1 (new), 2 (change) or 3 (delete)"
    if app_type != AppType.NEW and any(d.state is DeclarationState.RELEASED for d in declarations):
        return f"the declaration of order {order_no} was released: its documents can no longer change"
    if app_type != AppType.NEW and any(d.state is DeclarationState.ACCEPTED for d in declarations):
        return (
            f"customs accepted the inventory list of order {order_no}: its documents can no longer"
            " change; withdraw the list with a CEB623"
        )
    if app_type == AppType.NEW and on_file is not None:
        return f"a {what} is already on file (guid {on_file.guid}): send a change (appType 2)"
    if app_type != AppType.NEW and on_file is None:
        return f"no {what} is on file to {'change' if app_type == AppType.CHANGE else 'delete'}"
    return None


async def _on_file(conn: AsyncConnection, incoming: Incoming, ebp_code: str) -> FiledDocument | None:
    facts = incoming.facts
    if isinstance(facts, WaybillFacts):  # by its number, else the carrier's waybill it corrects
        named = await store.waybill_named(conn, facts.order_no, facts.logistics_code, facts.logistics_no)
        return named or await store.waybill_named(conn, facts.order_no, facts.logistics_code, None)
    return (await store.documents_on_file(conn, facts.order_no, ebp_code)).get(incoming.envelope.kind)


async def file_message(conn: AsyncConnection, incoming: Incoming, office: Office, at: datetime) -> None:
    envelope, order_no = incoming.envelope, incoming.facts.order_no
    if await store.is_redelivery(conn, incoming, office.sealer):
        return  # already filed and answered: nothing happens twice
    kind, app_type = envelope.kind, envelope.head.get("appType", "")
    # Order, payment and inventory list join by orderNo + ebpCode; the waybill by orderNo and the
    # waybill number the inventory list names.
    ebp_code = _platform_of(incoming.facts)
    platform = ebp_code or None  # a waybill concerns the order's declarations of any platform
    on_file = await _on_file(conn, incoming, ebp_code)
    known = await store.declarations_of(conn, order_no, platform)
    why = refusal(kind, order_no, app_type, on_file, known)
    if why is not None:
        await inbox.answer(conn, envelope, PROCESSING_ERROR, why, at)
        return
    if app_type != AppType.DELETE and (taken := await duplicate(conn, incoming, ebp_code)) is not None:
        await inbox.answer(conn, envelope, REJECTED, taken.return_info, at)
        return
    if on_file is not None:
        await store.supersede(conn, on_file)
    await store.file_document(
        conn, incoming, ebp_code, DELETION if app_type == AppType.DELETE else CURRENT, at, office.sealer
    )
    if kind is DocumentKind.INVENTORY:
        declaration = await _declare(conn, order_no, ebp_code, app_type, at)
        info = (
            "deleted: the declaration is cancelled" if app_type == AppType.DELETE else "received, declaring"
        )
        await inbox.answer(conn, envelope, RECEIVED_DECLARING, info, at, {"preNo": declaration.pre_no})
        known = await store.declarations_of(conn, order_no, platform)
    else:  # filing another kind changes no declaration: those read above are as they are now
        await inbox.answer(conn, envelope, ACCEPTED, _taken(app_type), at)
    for declaration in known:
        if _to_judge(declaration, kind):
            await judge(conn, declaration, office, at)


def _to_judge(declaration: Declaration, arrived: DocumentKind) -> bool:
    """A waiting declaration is matched whenever a document arrives. A rejected one was returned to
    the declarant: only its inventory list declared again (a change) puts it up for matching, so the
    other documents can be corrected first without customs judging a half-corrected set."""
    if declaration.state is DeclarationState.WAITING:
        return True
    return declaration.state in OPEN_STATES and arrived is DocumentKind.INVENTORY


def _taken(app_type: str) -> str:
    done = {AppType.NEW: "received", AppType.CHANGE: "changed", AppType.DELETE: "deleted"}[AppType(app_type)]
    return f"{done}: accepted into the customs system"


async def _declare(
    conn: AsyncConnection, order_no: str, ebp_code: str, app_type: str, at: datetime
) -> Declaration:
    """The declaration an inventory list makes, changes or (deleted) cancels."""
    declaration = await store.open_declaration(conn, order_no, ebp_code, at)
    if app_type == AppType.DELETE:
        return await store.update_declaration(conn, declaration, at, state=DeclarationState.CANCELLED)
    return declaration
