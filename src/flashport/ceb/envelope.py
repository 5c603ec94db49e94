"""What every CEB declaration shares: the root element, the head's opening fields, ``BaseTransfer``,
and the optional signature (the XML plumbing itself is in :mod:`.xml`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from lxml import etree

from flashport.ceb.codes import DXP_MODE, MESSAGE_VERSION
from flashport.ceb.errors import InconsistentDeclaration
from flashport.ceb.formatting import format_app_time, is_guid, new_guid
from flashport.ceb.model import AppStatus, AppType, Sender
from flashport.ceb.xml import CEB_NS, ceb, to_bytes

if TYPE_CHECKING:
    from flashport.ceb.signing import Signer

# (element name, text); a None text leaves an optional element out.
Field = tuple[str, str | None]

MAX_ENTRIES = 100  # XSD: Order, Payment, Logistics and Inventory have maxOccurs 100 in their message


T = TypeVar("T")


def entries_of(content: T | Sequence[T], single: type[T]) -> list[T]:
    """The documents of one message: one, or a sequence of 1 to :data:`MAX_ENTRIES`.

    Raises :class:`InconsistentDeclaration` for none or more than the schema allows: customs refuses
    the whole message then, so not one of them would be declared."""
    entries = [content] if isinstance(content, single) else list(content)  # type: ignore[arg-type]
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise InconsistentDeclaration(
            [f"a message carries 1 to {MAX_ENTRIES} {single.__name__}s, this one has {len(entries)}"]
        )
    return entries


def head_guids_for(count: int, guid: str, head_guids: Sequence[str] | None) -> list[str]:
    """The guid of each document head. Given (the sender keeps them, receipts name them), they are
    used as they are; else a single document's head shares the message guid, as it always did, and
    the heads of a batch get fresh ones."""
    if head_guids is not None:
        if len(head_guids) != count:
            raise ValueError(f"{count} documents but {len(head_guids)} head guids")
        return list(head_guids)
    return [guid] if count == 1 else [new_guid() for _ in range(count)]


def message_root(kind: str, guid: str) -> Any:
    """``<ceb:CEB311Message guid=... version="1.0">`` for ``kind="CEB311"``."""
    if not is_guid(guid):
        raise ValueError(f"guid must be 36 upper-case characters (an upper-cased UUID), got {guid!r}")
    return etree.Element(ceb(f"{kind}Message"), nsmap={"ceb": CEB_NS}, guid=guid, version=MESSAGE_VERSION)


def add_node(parent: Any, name: str, fields: Iterable[Field] = ()) -> Any:
    """Append ``<ceb:name>`` to ``parent`` with one child per field, in the order given."""
    node = etree.SubElement(parent, ceb(name))
    for child_name, text in fields:
        if text is not None:
            etree.SubElement(node, ceb(child_name)).text = text
    return node


def head_opening(
    guid: str, app_type: AppType, app_time: datetime | None, app_status: AppStatus
) -> list[Field]:
    """The four fields every declaration head starts with; ``app_time`` defaults to now."""
    return [
        ("guid", guid),
        ("appType", app_type.value),
        ("appTime", format_app_time(app_time if app_time is not None else datetime.now(UTC))),
        ("appStatus", app_status.value),
    ]


def add_base_transfer(root: Any, sender: Sender) -> None:
    add_node(
        root,
        "BaseTransfer",
        [
            ("copCode", sender.cop_code),
            ("copName", sender.cop_name),
            ("dxpMode", DXP_MODE),
            ("dxpId", sender.dxp_id),
        ],
    )


@dataclass(frozen=True)
class Opening:
    """How every document head of one message opens (:func:`head_opening`), less its own guid."""

    app_type: AppType
    app_status: AppStatus
    app_time: datetime | None = None


def batch_message(
    kind: str,
    entries: Sequence[T],
    add_entry: Callable[[Any, T, list[Field]], None],
    sender: Sender,
    opening: Opening,
    *,
    guid: str | None,
    head_guids: Sequence[str] | None,
    signer: Signer | None,
) -> bytes:
    """One message of ``kind`` carrying ``entries`` (already checked): ``add_entry(root, entry,
    head_opening)`` adds each document's nodes, in order, then the BaseTransfer, then the signature
    when a signer is given. Head guids as :func:`head_guids_for` says."""
    guid = guid or new_guid()
    root = message_root(kind, guid)
    for entry, head_guid in zip(entries, head_guids_for(len(entries), guid, head_guids), strict=True):
        add_entry(
            root, entry, head_opening(head_guid, opening.app_type, opening.app_time, opening.app_status)
        )
    add_base_transfer(root, sender)
    return finish(root, signer)


def finish(root: Any, signer: Signer | None) -> bytes:
    """Serialise, and sign when a signer is given: the signature goes last, where the XSD puts it."""
    message = to_bytes(root)
    return signer.sign(message) if signer is not None else message
