"""What every CEB declaration shares: the root element, the head's opening fields, ``BaseTransfer``,
serialisation, the optional signature, and a parser safe for XML that comes from outside."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lxml import etree

from flashport.ceb.codes import DXP_MODE, MESSAGE_VERSION
from flashport.ceb.formatting import format_app_time, is_guid
from flashport.ceb.model import AppStatus, AppType, Sender

if TYPE_CHECKING:
    from flashport.ceb.signing import Signer

CEB_NS = "http://www.chinaport.gov.cn/ceb"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"

# (element name, text); a None text leaves an optional element out.
Field = tuple[str, str | None]


def ceb(name: str) -> str:
    """The qualified tag of a CEB element."""
    return f"{{{CEB_NS}}}{name}"


def safe_parser() -> Any:
    """No entity expansion, no DTD, no network: receipts and messages may come from anyone."""
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


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


def to_bytes(root: Any) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def finish(root: Any, signer: Signer | None) -> bytes:
    """Serialise, and sign when a signer is given: the signature goes last, where the XSD puts it."""
    message = to_bytes(root)
    return signer.sign(message) if signer is not None else message
