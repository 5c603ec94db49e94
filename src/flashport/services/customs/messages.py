"""The platform's own customs messages: stored encrypted before they are sent (customs may ask for any
of them, and they carry the buyer's ID number), sent, and resent byte for byte after a failure, so the
single window sees the same guid again rather than a second document."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flashport.adapters.db import customs_messages_repo, customs_receipts_repo
from flashport.adapters.db.customs_messages_repo import SealedMessage
from flashport.adapters.db.declarations_repo import Declaration
from flashport.ceb import AppType, InconsistentDeclaration, SchemaNotFound, new_guid, validate
from flashport.services.context import Context

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
