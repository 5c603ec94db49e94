"""The XML plumbing every part of the codec shares: the two namespaces, qualified CEB tags, a parser
safe for XML that comes from outside, and serialisation. It imports nothing of the codec, so the
envelope (which signs) and the signing (which parses and serialises) both build on it without
importing each other."""

from __future__ import annotations

from typing import Any

from lxml import etree

CEB_NS = "http://www.chinaport.gov.cn/ceb"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"


def ceb(name: str) -> str:
    """The qualified tag of a CEB element."""
    return f"{{{CEB_NS}}}{name}"


def safe_parser() -> Any:
    """No entity expansion, no DTD, no network: receipts and messages may come from anyone."""
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


def to_bytes(root: Any) -> bytes:
    """The document with its XML declaration, UTF-8."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
