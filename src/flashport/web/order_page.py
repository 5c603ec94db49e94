"""One order's page: the order, then checkout (identity and consignee) or, once checked out, what is
payable and the Pay button.

Rendered by the page itself and again by a refused checkout, with what the buyer typed and the reasons
beside the fields.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from flashport.domain import divisions
from flashport.domain.addresses import SavedAddress
from flashport.domain.aftersales import cancel_path
from flashport.domain.orders import OrderStatus
from flashport.domain.tracking import JOURNEY
from flashport.services.accounts import addresses, identities
from flashport.services.aftersales import cancellation, returns
from flashport.services.orders import checkout
from flashport.services.orders import lifecycle as orders
from flashport.services.orders import storefront as order_progress
from flashport.services.orders.views import CheckoutView
from flashport.services.tracking import milestones
from flashport.web import answers, i18n, showcase
from flashport.web.address_lists import lists_for
from flashport.web.forms import NEW_ADDRESS, NEW_IDENTITY, CheckoutValues, Problem, field_labels
from flashport.web.session import WebSession
from flashport.web.state import service_context, storefront


async def order_page(
    request: Request,
    session: WebSession,
    buyer_id: int,
    order_no: str,
    *,
    values: CheckoutValues | None = None,
    errors: dict[str, str] | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> Response:
    ctx = service_context(request)
    order = await orders.get_for_buyer(ctx, buyer_id, order_no)
    stages = await order_progress.payment_stages(ctx, buyer_id, [order_no])
    stage = stages.get(order_no, order_progress.NOT_STARTED)
    breakdown = await checkout.get_checkout(ctx, buyer_id, order_no) if stage.checked_out else None
    window_open = order.status == OrderStatus.PENDING_PAYMENT and ctx.clock() < order.payment_deadline
    can_check_out = window_open and not stage.payment_started and session.is_buyer
    people = await identities.list_identities(ctx, buyer_id) if can_check_out else []
    saved = await addresses.list_addresses(ctx, buyer_id) if can_check_out else []
    shown = values or _starting_values(breakdown, people, saved)
    chinese = i18n.request_language(request) is i18n.ZH
    pictures = await showcase.order_pictures(ctx, storefront(request), [order], chinese=chinese)
    line_pictures = await showcase.line_pictures(ctx, storefront(request), [order], chinese=chinese)
    paid = order.status == OrderStatus.PAID
    shipment = await milestones.shipment_for_buyer(ctx, buyer_id, order_no) if paid else None
    aftersale = (
        await returns.return_or_none(ctx, buyer_id, order_no) if shipment and shipment.delivered else None
    )
    return_until = returns.return_deadline(ctx, shipment) if shipment and not aftersale else None
    withdrawal = await cancellation.cancellation_or_none(ctx, buyer_id, order_no) if shipment else None
    path = cancel_path(order.customs_status) if paid and order.customs_status else None
    refunded = paid and order.customs_status == "refunded"
    buyer_cancelled = refunded and await cancellation.refunded_as_cancelled(ctx, order.id)
    can_cancel_paid = path is not None and withdrawal is None and session.is_buyer
    return answers.page(
        request,
        session,
        "order.html",
        status=status,
        order=order,
        pictures=pictures,
        line_pictures=line_pictures,
        detail=True,
        stages={order_no: stage},
        stage=stage,
        breakdown=breakdown,
        window_open=window_open,
        can_check_out=can_check_out,
        identities=people,
        values=shown,
        addresses=saved,
        address_lists=lists_for(shown.consignee_province, shown.consignee_city, shown.consignee_district),
        new_address=NEW_ADDRESS,
        errors=errors or {},
        problem=problem,
        labels=field_labels(i18n.request_language(request)),
        new_identity=NEW_IDENTITY,
        shipment=shipment,
        aftersale=aftersale,
        withdrawal=withdrawal,
        can_cancel_paid=can_cancel_paid,
        buyer_cancelled=buyer_cancelled,
        cancel_path=path.value if path else None,
        can_return=return_until is not None and ctx.clock() <= return_until,
        return_until=return_until,
        journey=[m.value for m in JOURNEY],
        reached={m.milestone: m.at for m in shipment.milestones} if shipment else {},
        returned_for=returned_for(request),
        shows_tariff=bool(breakdown and any(line.tariff != "0.00" for line in breakdown.lines)),
    )


def returned_for(request: Request) -> str:
    """The order number whose payment the buyer has just come back from, as the provider's return
    address says (``out_trade_no``: the order number, then ``-<attempt>`` for a later attempt); empty
    otherwise. It only changes what the page says while that order's payment is still pending: the
    outcome is the provider's signed notification's to decide, never this address's."""
    trade = request.query_params.get("out_trade_no", "")[:64]
    base, dash, attempt = trade.rpartition("-")
    return base if dash and attempt.isdigit() else trade


def _starting_values(
    breakdown: CheckoutView | None, people: list[identities.Identity], saved: list[SavedAddress]
) -> CheckoutValues:
    """A fresh form: the last checkout's choices when there was one, else the buyer's first identity
    and newest saved address (a new address is saved unless the buyer says not to)."""
    if breakdown is None:
        first = str(people[0].id) if people else NEW_IDENTITY
        address = str(saved[0].id) if saved else NEW_ADDRESS
        return CheckoutValues(identity_id=first, address_id=address, save_address=True)
    buyer, consignee = breakdown.buyer, breakdown.consignee
    same = [p for p in people if (p.name, p.id_number) == (buyer.name, buyer.id_number)]
    chosen = same[0] if same else (people[0] if people else None)
    same_address = [
        a
        for a in saved
        if (a.name, a.phone, a.written) == (consignee.name, consignee.phone, consignee.address)
    ]
    district = consignee.district or ""
    place = divisions.place(district)
    street = consignee.address or ""
    if place is not None:  # the street is what follows the place it was written with
        street = street.removeprefix(place.written).strip()
    return CheckoutValues(
        identity_id=str(chosen.id) if chosen else NEW_IDENTITY,
        consignee_name=consignee.name or "",
        consignee_phone=consignee.phone or "",
        consignee_address=street,
        consignee_district=district,
        address_id=str(same_address[0].id) if same_address else NEW_ADDRESS,
    )
