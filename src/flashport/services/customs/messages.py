"""The platform's own customs messages: stored encrypted before they are sent (customs may ask for any
of them, and they carry the buyer's ID number), sent, and resent byte for byte after a failure, so the
single window sees the same guid again rather than a second document."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from flashport.adapters.customs.gateway import CustomsRefused, CustomsUnavailable
from flashport.adapters.db import customs_messages_repo, customs_receipts_repo, declaring_repo
from flashport.adapters.db.customs_messages_repo import SealedMessage
from flashport.adapters.db.declarations_repo import Declaration
from flashport.ceb import (
    AppType,
    CustomsMessageError,
    InconsistentDeclaration,
    SchemaNotFound,
    new_guid,
    validate,
)
from flashport.services.context import Context, Tx

log = logging.getLogger(__name__)

Party = str  # "platform", "payment" or "logistics": who declared the message


def _seal(ctx: Context, body: bytes) -> str:
    return ctx.vault.seal(body.decode("utf-8"))


def open_body(ctx: Context, message: SealedMessage) -> bytes:
    return ctx.vault.open(message.body_cipher).encode("utf-8")


async def app_type_for(ctx: Context, declaration_id: int, kind: str, version: int) -> AppType:
    """CHANGE when customs holds an earlier version of this document (sent, and not refused with an
    error receipt); NEW otherwise."""
    async with ctx.read() as conn:
        earlier = await customs_messages_repo.earlier_sent_guids(conn, declaration_id, kind, version)
        if not earlier:
            return AppType.NEW
        refused = await customs_receipts_repo.refused_guids(conn, earlier)
    return AppType.CHANGE if set(earlier) - refused else AppType.NEW


async def send_once(
    ctx: Context,
    declaration: Declaration,
    kind: str,
    build: Callable[[str, AppType], bytes],
    *,
    deleting: bool = False,
) -> None:
    """Send the platform's ``kind`` message of the declaration's current version (its withdrawal,
    appType 3, with ``deleting``): the stored one if an earlier attempt stored but did not finish
    sending it, else a fresh one from ``build(guid, app_type)``. Raises what the gateway raises; the
    caller retries later."""
    version = declaration.version
    async with ctx.read() as conn:
        stored = await customs_messages_repo.find_platform_message(
            conn, declaration.id, kind, version, deleting=deleting
        )
    if stored is None:
        guid = new_guid()
        if deleting:
            app_type = AppType.DELETE
        else:
            app_type = await app_type_for(ctx, declaration.id, kind, version)
        body = build(guid, app_type)
        check_against_schema(kind, body)
        recorded = await record(ctx, declaration, kind, "platform", app_type, guid, body)
        assert recorded is not None  # the platform's own messages are always new rows
        message_id, sent_app_type = recorded, app_type.value
    else:
        body, message_id, sent_app_type = open_body(ctx, stored), stored.id, stored.app_type
    await ctx.customs.send(body)
    async with ctx.transaction() as tx:
        await customs_messages_repo.mark_sent(tx.conn, message_id, tx.now)
        await tx.emit(
            "customs.message_sent",
            f"order:{declaration.order_no}",
            {
                "order_no": declaration.order_no,
                "kind": kind,
                "version": version,
                "app_type": AppType.DELETE.value if deleting else sent_app_type,
                "message_id": message_id,
            },
        )


def check_against_schema(kind: str, body: bytes) -> None:
    """Refuse to send what customs would refuse: the problem then shows as the declaration's
    ``last_error`` for an operator to fix, instead of a processing-error receipt. Where the official
    schema is not installed, customs' own check is the only one (logged once per process)."""
    global _schema_missing_logged
    try:
        problems = validate(body)
    except SchemaNotFound as exc:
        if not _schema_missing_logged:
            log.warning("customs messages are sent without local schema validation: %s", exc)
            _schema_missing_logged = True
        return
    if problems:
        raise InconsistentDeclaration([f"{kind} not valid against the CEB schema: {p}" for p in problems])


_schema_missing_logged = False


async def record(
    ctx: Context, declaration: Declaration, kind: str, party: Party, app_type: AppType, guid: str, body: bytes
) -> int | None:
    """Keep a copy of a message (ours before sending, or a partner's as it reported it). A partner's
    message already kept (the same guid, reported again after a retry) is not kept twice: None. Ours
    have fresh guids, so a duplicate of one is a bug and raises."""
    async with ctx.transaction() as tx:
        message_id = await customs_messages_repo.insert(
            tx.conn,
            declaration_id=declaration.id,
            kind=kind,
            party=party,
            app_type=app_type.value,
            version=declaration.version,
            guid=guid,
            body_cipher=_seal(ctx, body),
            now=tx.now,
            sent_at=tx.now if party != "platform" else None,
        )
    if message_id is None and party == "platform":
        raise RuntimeError(f"the platform's message guid {guid} is kept already")
    return message_id


# --- batches: one message for up to 100 declarations' documents --------------------------------------

STEP_OF_KIND: dict[str, Literal["order", "inventory"]] = {"CEB311": "order", "CEB621": "inventory"}


@dataclass
class Outcome:
    """What became of the declarations given to a batched send: sent (their step recorded), or failed
    with the reason, by declaration id."""

    sent: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)

    def merge(self, other: Outcome) -> None:
        self.sent |= other.sent
        self.failed |= other.failed


C = TypeVar("C")
# Builds a message of several documents: (contents, head guids, message guid, app type) -> bytes.
BuildMany = Callable[[Sequence[C], list[str], str, AppType], bytes]


async def resend_kept(ctx: Context, declarations: Sequence[Declaration], kind: str) -> Outcome:
    """Send again, byte for byte, each message kept for these declarations' current versions but not
    marked sent (an earlier attempt failed after keeping it). A batch goes whole: its other documents
    are recorded as sent too."""
    outcome = Outcome()
    async with ctx.read() as conn:
        kept = await declaring_repo.unsent_platform_documents(conn, declarations, kind)
    by_message: dict[tuple[str, int], list[declaring_repo.KeptDocument]] = {}
    for document in kept:
        key = ("batch", document.batch_id) if document.batch_id is not None else ("own", document.message_id)
        by_message.setdefault(key, []).append(document)
    versions = {d.id: d for d in declarations}
    for documents in by_message.values():
        first = documents[0]
        body = ctx.vault.open(first.body_cipher).encode("utf-8")
        try:
            await ctx.customs.send(body)
        except (CustomsUnavailable, CustomsRefused) as exc:
            outcome.failed |= {d.declaration_id: f"{type(exc).__name__}: {exc}" for d in documents}
            continue
        async with ctx.transaction() as tx:
            if first.batch_id is not None:
                members = await declaring_repo.members_of(tx.conn, first.batch_id)
            else:
                d = versions[first.declaration_id]
                members = [(d.id, d.version, first.message_id)]
            await _record_sent(tx, kind, first.app_type, members, first.batch_id)
        outcome.sent |= {d.declaration_id for d in documents}
    return outcome


async def send_new(
    ctx: Context,
    kind: str,
    items: Sequence[tuple[Declaration, C]],
    build: BuildMany[C],
    app_type: AppType,
) -> Outcome:
    """One new message for ``items`` (1 to 100 declarations, one app type), kept before it is sent.
    A document the codec or the schema refuses is left out and failed alone, so the others go."""
    outcome = Outcome()
    good = list(items)
    body, guid, heads = _build_checked(kind, good, build, app_type)
    if body is None:
        # Find the bad documents one by one, then send the others together.
        good = []
        for item in items:
            alone, _, _ = _build_checked(kind, [item], build, app_type, outcome.failed)
            if alone is not None:
                good.append(item)
        if not good:
            return outcome
        body, guid, heads = _build_checked(kind, good, build, app_type, outcome.failed)
        if body is None:
            return outcome
    documents = [
        declaring_repo.NewDocument(d.id, d.version, head, app_type.value)
        for (d, _), head in zip(good, heads, strict=True)
    ]
    async with ctx.transaction() as tx:
        batch_id, ids = await declaring_repo.keep_message(
            tx.conn,
            kind=kind,
            party="platform",
            message_guid=guid,
            body_cipher=_seal(ctx, body),
            documents=documents,
            now=tx.now,
            sent=False,
        )
    try:
        await ctx.customs.send(body)
    except (CustomsUnavailable, CustomsRefused) as exc:
        outcome.failed |= {d.id: f"{type(exc).__name__}: {exc}" for d, _ in good}
        return outcome
    async with ctx.transaction() as tx:
        members = [(d.id, d.version, ids[d.id]) for d, _ in good]
        await _record_sent(tx, kind, app_type.value, members, batch_id)
    outcome.sent |= {d.id for d, _ in good}
    return outcome


def _build_checked(
    kind: str,
    items: Sequence[tuple[Declaration, C]],
    build: BuildMany[C],
    app_type: AppType,
    failed: dict[int, str] | None = None,
) -> tuple[bytes | None, str, list[str]]:
    """The message, its guid and head guids; None when the codec or the schema refuses it (noted in
    ``failed`` for each declaration when given)."""
    guid = new_guid()
    heads = [guid] if len(items) == 1 else [new_guid() for _ in items]
    try:
        body = build([content for _, content in items], heads, guid, app_type)
        check_against_schema(kind, body)
    except CustomsMessageError as exc:
        if failed is not None:
            failed |= {d.id: f"{type(exc).__name__}: {exc}" for d, _ in items}
        return None, guid, heads
    return body, guid, heads


async def _record_sent(
    tx: Tx,
    kind: str,
    app_type: str,
    members: Sequence[tuple[int, int, int]],
    batch_id: int | None,
) -> None:
    """The message is sent: marked so, each declaration's step recorded, an outbox record each."""
    await declaring_repo.mark_sent(tx.conn, [m for _, _, m in members], batch_id, tx.now)
    await declaring_repo.record_sent(tx.conn, STEP_OF_KIND[kind], [(d, v) for d, v, _ in members], tx.now)
    numbers = await declaring_repo.order_numbers(tx.conn, [d for d, _, _ in members])
    await tx.emit_many(
        [
            (
                "customs.message_sent",
                f"order:{numbers[d]}",
                {"order_no": numbers[d], "kind": kind, "version": v, "app_type": app_type, "message_id": m},
            )
            for d, v, m in members
        ]
    )
