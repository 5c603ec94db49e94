"""How the API shows a waybill: the answer of every waybill route."""

from __future__ import annotations

from typing import Any

from flashport.ceb import Sender
from flashport.sandbox_logistics.carrier import WaybillView
from flashport.sandbox_logistics.waybills import Declaration, DeclarationState, TrackingEvent


def waybill_json(view: WaybillView, carrier: Sender) -> dict[str, Any]:
    """``declared`` is true when customs took the latest CEB511 made for the waybill; ``message`` is
    that CEB511 (XML text), faults included."""
    waybill, flight, latest = view.waybill, view.waybill.flight, view.declaration
    return {
        "logistics_no": waybill.logistics_no,
        "logistics_code": carrier.cop_code,
        "logistics_name": carrier.cop_name,
        "order_no": waybill.order.order_no,
        "trade_mode": waybill.order.trade_mode.value,
        "bill_no": flight.bill_no if flight else None,
        "traf_no": flight.traf_no if flight else None,
        "voyage_no": flight.voyage_no if flight else None,
        "status": waybill.status.value,
        "declared": latest is not None and latest.state is DeclarationState.SENT,
        "declared_at": waybill.declared_at.isoformat() if waybill.declared_at else None,
        "message": latest.message.decode() if latest else None,
        "declaration": _declaration_json(latest),
        "events": [_event_json(event) for event in view.events],
    }


def _declaration_json(declaration: Declaration | None) -> dict[str, Any] | None:
    if declaration is None:
        return None
    return {
        "app_type": declaration.app_type,
        "state": declaration.state.value,
        "attempts": declaration.attempts,
        "sent_at": declaration.sent_at.isoformat() if declaration.sent_at else None,
        "last_error": declaration.last_error,
        "sent_in": declaration.sent_in,
    }


def _event_json(event: TrackingEvent) -> dict[str, str]:
    return {"at": event.at.isoformat(), "status": event.status.value, "description": event.description}
