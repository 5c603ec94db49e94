"""The platform's own customs messages: stored encrypted before they are sent (customs may ask for any
of them, and they carry the buyer's ID number), sent, and resent byte for byte after a failure, so the
single window sees the same guid again rather than a second document."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from flashport.adapters.db.schema import customs_messages, customs_receipts
from flashport.ceb import AppType, InconsistentDeclaration, SchemaNotFound, new_guid, validate
from flashport.services.context import Context

log = logging.getLogger(__name__)

Party = str  # "platform", "payment" or "logistics": who declared the message


def _seal(ctx: Context, body: bytes) -> str:
    assert ctx.vault is not None
    return ctx.vault.seal(body.decode("utf-8"))


def open_body(ctx: Context, row: Any) -> bytes:
    assert ctx.vault is not None
    return ctx.vault.open(row.body_cipher).encode("utf-8")


async def app_type_for(ctx: Context, declaration_id: int, kind: str, version: int) -> AppType:
    """CHANGE when customs holds an earlier version of this document (sent, and not refused with an
    error receipt); NEW otherwise."""
    async with ctx.read() as conn:
        earlier = (
            await conn.scalars(
                sa.select(customs_messages.c.guid).where(
                    customs_messages.c.declaration_id == declaration_id,
                    customs_messages.c.kind == kind,
                    customs_messages.c.version < version,
                    customs_messages.c.sent_at.is_not(None),
                )
            )
        ).all()
        if not earlier:
            return AppType.NEW
        refused = set(
            (
                await conn.scalars(
                    sa.select(customs_receipts.c.message_guid).where(
                        customs_receipts.c.message_guid.in_(earlier), customs_receipts.c.return_status < 0
                    )
                )
            ).all()
        )
    return AppType.CHANGE if set(earlier) - refused else AppType.NEW


async def send_once(
    ctx: Context,
    declaration: Any,
    kind: str,
    build: Callable[[str, AppType], bytes],
    *,
    deleting: bool = False,
) -> None:
    """Send the platform's ``kind`` message of the declaration's current version (its withdrawal,
    appType 3, with ``deleting``): the stored one if an earlier attempt stored but did not finish
    sending it, else a fresh one from ``build(guid, app_type)``. Raises what the gateway raises; the
    caller retries later."""
    assert ctx.customs is not None
    version = declaration.version
    delete = customs_messages.c.app_type == AppType.DELETE.value
    async with ctx.read() as conn:
        stored = (
            await conn.execute(
                sa.select(customs_messages).where(
                    customs_messages.c.declaration_id == declaration.id,
                    customs_messages.c.kind == kind,
                    customs_messages.c.version == version,
                    customs_messages.c.party == "platform",
                    delete if deleting else ~delete,
                )
            )
        ).first()
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
        message_id = recorded
    else:
        body, message_id = open_body(ctx, stored), stored.id
    await ctx.customs.send(body)
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            customs_messages.update().where(customs_messages.c.id == message_id).values(sent_at=tx.now)
        )
        await tx.emit(
            "customs.message_sent",
            f"order:{declaration.order_no}",
            {
                "order_no": declaration.order_no,
                "kind": kind,
                "version": version,
                "app_type": AppType.DELETE.value
                if deleting
                else (stored.app_type if stored else app_type.value),
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
    ctx: Context, declaration: Any, kind: str, party: Party, app_type: AppType, guid: str, body: bytes
) -> int | None:
    """Keep a copy of a message (ours before sending, or a partner's as it reported it). A partner's
    message already kept (the same guid, reported again after a retry) is not kept twice: None."""
    async with ctx.transaction() as tx:
        insert = customs_messages.insert().values(
            declaration_id=declaration.id,
            kind=kind,
            party=party,
            app_type=app_type.value,
            version=declaration.version,
            guid=guid,
            body_cipher=_seal(ctx, body),
            created_at=tx.now,
            sent_at=tx.now if party != "platform" else None,
        )
        try:
            async with tx.conn.begin_nested():
                return int(await tx.conn.scalar(insert.returning(customs_messages.c.id)))
        except IntegrityError:
            if party == "platform":
                raise
            return None
