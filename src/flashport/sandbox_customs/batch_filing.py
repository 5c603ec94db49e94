"""Filing a whole message (up to 100 documents) set-based: one read each of what is on file, the
declarations and the numbers in use for all its documents, one insert of the documents and one of
their receipts, then the match of every declaration they complete (:func:`.judging.judge_many`).

The rules are :mod:`.filing`'s, decided the same way per document from what the reads found. A
message this cannot decide document by document from one read goes through :func:`.filing.
file_message` one document at a time: one that changes or deletes documents (appType 2 or 3), or
whose documents share an order or a number among themselves (each would change what the next sees).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import AppType
from flashport.sandbox_customs import judging, store, store_many
from flashport.sandbox_customs.documents import DocumentKind, WaybillFacts
from flashport.sandbox_customs.filing import (
    _DUPLICATE,
    _platform_of,
    _taken,
    _to_judge,
    file_message,
    refusal,
)
from flashport.sandbox_customs.inbox import Answer, Mail
from flashport.sandbox_customs.office import Office
from flashport.sandbox_customs.reading import Incoming
from flashport.sandbox_customs.refusals import Refusal
from flashport.sandbox_customs.statuses import (
    PROCESSING_ERROR,
    RECEIVED_DECLARING,
    REJECTED,
    DeclarationState,
)
from flashport.sandbox_customs.store import Declaration, FiledDocument


async def file_all(
    conn: AsyncConnection, incomings: Sequence[Incoming], office: Office, at: datetime
) -> None:
    """File, answer and match every document of one message, inside the caller's write transaction."""
    if not _set_based(incomings):
        for incoming in incomings:
            await file_message(conn, incoming, office, at)
        return
    order_nos = [i.facts.order_no for i in incomings]
    again = await store_many.redelivered(conn, incomings, office.sealer)
    fresh = [i for n, i in enumerate(incomings) if n not in again]  # already filed and answered
    if not fresh:
        return
    on_file = await store_many.current_documents(conn, order_nos)
    known = await store_many.declarations_of(conn, order_nos)
    kind = fresh[0].envelope.kind
    keys = [key for i in fresh if (key := store.unique_key(kind, i.envelope.head)) is not None]
    used = await store_many.numbers_used(conn, kind, keys)

    answers: list[Answer] = []
    filed: list[tuple[Incoming, str]] = []
    to_judge: list[Declaration] = []
    for incoming in fresh:
        ebp_code = _platform_of(incoming.facts)
        theirs = [d for d in known.get(incoming.facts.order_no, []) if not ebp_code or d.ebp_code == ebp_code]
        why = refusal(
            kind, incoming.facts.order_no, AppType.NEW, _on_file(incoming, ebp_code, on_file), theirs
        )
        if why is not None:
            answers.append(Answer(incoming.envelope, PROCESSING_ERROR, why))
            continue
        if (taken := _duplicate(incoming, ebp_code, used)) is not None:
            answers.append(Answer(incoming.envelope, REJECTED, taken.return_info))
            continue
        filed.append((incoming, ebp_code))
        if kind is not DocumentKind.INVENTORY:
            answers.append(Answer(incoming.envelope, judging.ACCEPTED, _taken(AppType.NEW)))
            to_judge += [d for d in theirs if _to_judge(d, kind)]
    await store_many.file_documents(conn, filed, at, office.sealer)
    if kind is DocumentKind.INVENTORY:
        to_judge += await _declare(conn, filed, known, answers, at)
    mail = Mail()
    for answer in answers:
        mail.answer(answer, at)
    await judging.judge_many(conn, to_judge, office, at, mail)
    await mail.send(conn)


def _set_based(incomings: Sequence[Incoming]) -> bool:
    """New documents only, no two of one order or one number: each is decided from the same reads."""
    if len(incomings) < 2 or any(i.envelope.head.get("appType", "") != AppType.NEW for i in incomings):
        return False
    kind = incomings[0].envelope.kind
    keys = [store.unique_key(kind, i.envelope.head) for i in incomings]
    numbered = [key for key in keys if key is not None]
    order_nos = {i.facts.order_no for i in incomings}
    return len(order_nos) == len(incomings) and len(set(numbered)) == len(numbered)


def _on_file(
    incoming: Incoming, ebp_code: str, on_file: dict[str, list[FiledDocument]]
) -> FiledDocument | None:
    """:func:`.filing._on_file` from the message's read of what is on file."""
    facts, filed = incoming.facts, on_file.get(incoming.facts.order_no, [])
    if isinstance(facts, WaybillFacts):  # by its number, else the carrier's waybill it corrects
        named = store_many.waybill_of(filed, facts.logistics_code, facts.logistics_no)
        return named or store_many.waybill_of(filed, facts.logistics_code, None)
    return store_many.on_file_of(filed, ebp_code).get(incoming.envelope.kind)


def _duplicate(
    incoming: Incoming, ebp_code: str, used: dict[tuple[str, str], list[tuple[str, str]]]
) -> Refusal | None:
    """:func:`.filing.duplicate` from the message's read of the numbers in use."""
    kind, order_no = incoming.envelope.kind, incoming.facts.order_no
    key = store.unique_key(kind, incoming.envelope.head)
    if key is None:
        return None
    others = [o for o, e in used.get(key, []) if not (o == order_no and e == ebp_code)]
    if not others:
        return None
    code, chinese, english = _DUPLICATE[kind]
    return Refusal(
        code,
        f"{chinese}{key[1]}已被订单{others[0]}使用",
        f"{english} {key[1]} of {key[0]} is already declared for order {others[0]}",
    )


async def _declare(
    conn: AsyncConnection,
    filed: list[tuple[Incoming, str]],
    known: dict[str, list[Declaration]],
    answers: list[Answer],
    at: datetime,
) -> list[Declaration]:
    """The declarations the filed inventory lists open (new ones made together, a cancelled one
    reopened), each list answered with its pre-entry number; returns those to match."""
    opened: dict[tuple[str, str], Declaration] = {}
    new: list[tuple[str, str]] = []
    for incoming, ebp_code in filed:
        order_no = incoming.facts.order_no
        found = [d for d in known.get(order_no, []) if d.ebp_code == ebp_code]
        if not found:
            new.append((order_no, ebp_code))
        elif found[0].state is DeclarationState.CANCELLED:
            opened[(order_no, ebp_code)] = await store.update_declaration(
                conn, found[0], at, state=DeclarationState.WAITING
            )
        else:
            opened[(order_no, ebp_code)] = found[0]
    opened |= await store_many.open_declarations(conn, new, at)
    chosen = []
    for incoming, ebp_code in filed:
        declaration = opened[(incoming.facts.order_no, ebp_code)]
        keys = {"preNo": declaration.pre_no}
        answers.append(Answer(incoming.envelope, RECEIVED_DECLARING, "received, declaring", keys))
        if _to_judge(declaration, DocumentKind.INVENTORY):
            chosen.append(declaration)
    return chosen
