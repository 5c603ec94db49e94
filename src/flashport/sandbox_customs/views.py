"""JSON views of declarations for the convenience endpoints (people and tests, not the DXP binding)."""

from __future__ import annotations

from typing import Any

from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.store import Declaration, FiledDocument


def declaration_view(
    order_no: str,
    declaration: Declaration | None,
    on_file: dict[DocumentKind, FiledDocument] | None,
    receipts: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """``state`` is None while no inventory list was ever filed for the order. ``documents`` and
    ``receipts`` are left out of list views (``on_file``/``receipts`` None)."""
    view: dict[str, Any] = {
        "order_no": order_no,
        "ebp_code": declaration.ebp_code if declaration else None,
        "state": declaration.state.value if declaration else None,
        "reason_code": declaration.reason_code if declaration else None,
        "reason_text": declaration.reason_text if declaration else None,
        "pre_no": declaration.pre_no if declaration else None,
        "invt_no": declaration.invt_no if declaration else None,
        "updated_at": declaration.updated_at.isoformat() if declaration else None,
    }
    if on_file is not None:
        view["documents"] = {kind.value: _document(on_file.get(kind)) for kind in DocumentKind}
    if receipts is not None:
        view["receipts"] = receipts
    return view


def _document(filed: FiledDocument | None) -> dict[str, Any] | None:
    if filed is None:
        return None
    return {
        "guid": filed.guid,
        "app_type": filed.app_type,
        "sender": filed.sender,
        "received_at": filed.received_at.isoformat(),
    }
