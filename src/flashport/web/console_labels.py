"""The console's words for machine codes: a role, an event's, order's, payment's, refund's or declaration's
state, a refund's reason, a tax category, a warehouse's kind and a supplier statement's stage. The pages
keep the code itself in URLs, attributes and CSS classes and show people this label, in their language
(the texts are marked with ``N_`` and translated in the catalogues). A code without a label is shown as
it is, its underscores as spaces."""

from __future__ import annotations

from flashport.web.i18n import N_, Language, gettext_for

LABELS: dict[str, str] = {
    # Roles (domain/accounts.py Role).
    "operator": N_("Operator"),
    "merchandiser": N_("Merchandiser"),
    "customer_service": N_("Customer service"),
    "supplier": N_("Supplier"),
    "buyer": N_("Buyer"),
    # Sale events (domain/sales.py EventStatus).
    "draft": N_("Draft"),
    "scheduled": N_("Scheduled"),
    "live": N_("Live"),
    "ended": N_("Ended"),
    "cancelled": N_("Cancelled"),
    # Orders (domain/orders.py OrderStatus).
    "pending_payment": N_("Awaiting payment"),
    "paid": N_("Paid"),
    "expired": N_("Expired"),
    "merged": N_("Merged"),
    # Payments and refunds (domain/payments.py, services/orders/desk.py REFUND_STATES).
    "all": N_("All"),
    "pending": N_("Pending"),
    "succeeded": N_("Succeeded"),
    "closed": N_("Closed unpaid"),
    # Refund reasons (domain/payments.py RefundReason).
    "late_payment": N_("Late payment"),
    "duplicate_payment": N_("Duplicate payment"),
    "amount_mismatch": N_("Amount mismatch"),
    "payer_mismatch": N_("Payer mismatch"),
    "annual_limit": N_("Annual limit reached"),
    "sale_cancelled": N_("Sale cancelled"),
    "customs_rejected": N_("Rejected by customs"),
    "staff_refund": N_("Refunded by staff"),
    # Customs declarations (domain/declarations.py DeclarationState).
    "declared": N_("Declared"),
    "received": N_("Received by customs"),
    "matched": N_("Matched"),
    "under_review": N_("Under review"),
    "reviewed": N_("Reviewed"),
    "inspection": N_("Inspection"),
    "detained": N_("Detained"),
    "released": N_("Released"),
    "shipped": N_("Shipped"),
    "rejected": N_("Rejected"),
    "refunded": N_("Refunded"),
    "returned": N_("Returned"),
    "needs_attention": N_("Needs attention"),
    # A supplier statement's stages (domain/supplier_statement.py).
    "waiting for customs": N_("Waiting for customs"),
    # Tax categories (domain/catalog.py) and warehouse kinds.
    "general": N_("General goods"),
    "reduced_vat": N_("Reduced VAT"),
    "consumption_tax": N_("Consumption tax"),
    "bonded": N_("Bonded"),
    "overseas": N_("Overseas"),
}


def label(language: Language, code: object) -> str:
    """The label of ``code`` (a string or a string enum) in ``language``."""
    text = str(getattr(code, "value", code) or "")
    known = LABELS.get(text)
    return gettext_for(language, known) if known is not None else text.replace("_", " ")
