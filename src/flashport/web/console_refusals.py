"""What a service's refusal says on a console or supplier-portal page, in the reader's language.

The services write their messages in English for the API and the logs. A console page says a refusal
again from its ``code`` and its ``facts`` (the figures and names the message states: a limit, a count,
a state, a role), and a field's problem from the field's code, with the field's label: a sentence here,
marked with ``N_`` and translated in the catalogues, in Chinese and in English alike. A code with no
sentence here uses the storefront's (``web/messages.py``); a code with none anywhere keeps the service's
words for an English reader and says a sentence for its kind of error to a Chinese one, so a Chinese
page never shows an English sentence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from flashport.domain.errors import DomainError, FieldProblem
from flashport.web import messages
from flashport.web.console_labels import label
from flashport.web.i18n import EN, N_, Language, gettext_for, request_language

# Pages whose refusals are said by this module; the storefront's are said by web/messages.py.
CONSOLE_PATHS = ("/operator", "/supplier")

SAID: dict[str, str] = {
    # Access.
    "not_your_section": N_("This page is for %(roles)s; you are logged in as %(role)s."),
    "not_your_supplier": N_("You may only manage your own supplier's catalog."),
    # Forms in general: the fields' own problems follow.
    "invalid_fields": N_("Please check these fields:"),
    "invalid_form": N_("Please check the highlighted fields."),
    "missing_field": N_("%(field)s is required."),
    "too_long": N_("%(field)s is at most %(max_length)s characters."),
    "not_chinese": N_("%(field)s must be written in Chinese."),
    "invalid_number": N_("%(field)s is a whole number."),
    "invalid_characters": N_("Remove the line breaks and special characters from %(field)s."),
    "invalid_datetime": N_("Write %(field)s as a date and a time."),
    "naive_datetime": N_("Give the times with their time zone."),
    "invalid_month": N_("Write the month as YYYY-MM."),
    "unknown_action": N_("There is no such action here."),
    "unknown_control": N_("There is no such action here."),
    "unknown_kind": N_("There is no such action here."),
    # The catalog.
    "invalid_country": N_("Write the country as its two-letter code, e.g. FR or JP."),
    "country_not_declarable": N_("Customs has no code for this country: choose another."),
    "origin_not_declarable": N_("Customs has no code for this country of origin: choose another."),
    "invalid_hs_code": N_("An HS code is 10 digits, e.g. 0402290000."),
    "invalid_unit": N_("Give a customs unit code, such as 007 (piece) or 035 (kg)."),
    "invalid_warehouse": N_(
        "A bonded warehouse is in China, with a customs district of 4 digits and its account book; "
        "an overseas one is outside China, with neither."
    ),
    "invalid_warehouse_code": N_("A warehouse code is capital letters, digits, - and _ (at most 40)."),
    "invalid_area_code": N_("A bonded warehouse has an area code; an overseas one has none."),
    "invalid_url": N_("Give an https:// address or a path on this site."),
    "invalid_image": N_("Choose a PNG, JPEG or WebP image of at most 2 MiB."),
    "invalid_images": N_("A product has 1 to 20 images."),
    "invalid_tax_category": N_("Choose a tax category from the list."),
    "invalid_weight": N_("The weight in grams is out of range."),
    "invalid_barcode": N_("A barcode is 8 to 14 digits (EAN or UPC)."),
    "invalid_money": N_("Write the amount in yuan, e.g. 199.00."),
    "invalid_declared_name": N_("Give the name declared to customs in Chinese."),
    "sku_code_repeated": N_("A SKU code is given twice."),
    "brand_name_taken": N_("A brand named “%(value)s” already exists."),
    "supplier_name_taken": N_("A supplier named “%(value)s” already exists."),
    "warehouse_code_taken": N_("A warehouse with the code %(value)s already exists."),
    "sku_code_taken": N_("A SKU with the code %(value)s already exists."),
    "brand_not_found": N_("There is no brand %(id)s."),
    "supplier_not_found": N_("There is no supplier %(id)s."),
    "warehouse_not_found": N_("There is no warehouse %(id)s."),
    "product_not_found": N_("There is no product %(id)s."),
    "sku_not_found": N_("There is no SKU %(id)s."),
    "stock_not_found": N_("SKU %(sku)s has no stock in warehouse %(warehouse)s: count its stock first."),
    "stock_below_allotted": N_(
        "%(allotted)s units are already allotted to sales: the count cannot be below that."
    ),
    # The sale calendar.
    "event_not_found": N_("There is no such event."),
    "sale_item_not_found": N_("There is no such sale item."),
    "invalid_title": N_("A title is 1 to 200 characters."),
    "invalid_channel": N_("A channel is a name such as global-flash-sale, at most 64 characters."),
    "invalid_banner_url": N_("The banner is an https:// address or a path on this site."),
    "event_length_out_of_policy": N_("An event lasts %(min_days)s to %(max_days)s days."),
    "invalid_window": N_("The end must come after the start, both between the years 2020 and 2100."),
    "invalid_preheat": N_("The pre-heat must fall between the years 2020 and 2100."),
    "preheat_not_before_start": N_("The pre-heat must come before the start."),
    "price_out_of_band": N_("The sale price must be between ¥%(band_low)s and ¥%(band_high)s."),
    "insufficient_stock": N_("Only %(free)s units are free in this warehouse."),
    "invalid_item": N_("Fill in the SKU, the warehouse, the price, the units and the limit."),
    "invalid_quantity": N_("The units are a whole number, at most %(max)s."),
    "invalid_per_buyer_limit": N_("The per-buyer limit is from 1 to %(max)s units."),
    "duplicate_sku": N_("SKU %(sku)s is already on sale in this event."),
    "quantity_below_committed": N_(
        "%(committed)s units are already reserved or sold: the allotment cannot go below that."
    ),
    "item_in_use": N_("Units of this item are reserved or sold: it cannot be removed."),
    "event_has_no_items": N_("A scheduled event needs at least one item."),
    "start_in_past": N_("The start is in the past: move it later first."),
    "event_not_editable": N_("The event is %(state)s: it can no longer be changed."),
    "bad_state.schedule": N_("Only a draft can be scheduled; this event is %(state)s."),
    "bad_state.cancel": N_("The event is %(state)s: it can no longer be cancelled."),
    # The live board's controls.
    "bad_state.end": N_("Only a live event can end early; this one is %(state)s."),
    "bad_state.paused": N_("The sale is %(state)s: it cannot be paused."),
    "bad_state.topped_up": N_("The sale is %(state)s: it cannot be topped up."),
    "invalid_units": N_("Give the units to add as a whole number from 1 to %(max)s."),
    # Orders and refunds.
    "order_not_found": N_("There is no such order."),
    "empty_query": N_("Type an order number, a buyer's e-mail or account number, or a phone."),
    "invalid_query": N_("A search is at most %(max)s characters on one line."),
    "invalid_state": N_("There is no state “%(value)s” here: choose one from the list."),
    "invalid_reason": N_("Say why in %(min)s to %(max)s characters."),
    "invalid_amount": N_("A refund is between ¥0.01 and the ¥%(paid)s paid."),
    "not_paid": N_("This order has no payment to refund."),
    "already_refunded": N_("This payment was refunded already."),
    # Customs declarations.
    "declaration_not_found": N_("There is no declaration for this order."),
    "declaration_not_rejected": N_(
        "Declaration of %(order)s is %(state)s; only a rejected one can be re-declared."
    ),
    "declaration_changed": N_("Declaration of %(order)s changed meanwhile; reload it."),
}
# A form's own problems are listed after the sentence of these codes.
LISTING = frozenset({"invalid_fields", "invalid_form", "invalid_item"})
CHECK_FIELD = N_("Please check this field.")

# What each field is called on the console's forms (the labels the forms show).
FIELD_NAMES: dict[str, str] = {
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "country": N_("Country"),
    "contact_email": N_("Contact e-mail"),
    "code": N_("Code"),
    "kind": N_("Kind"),
    "area_code": N_("Area code"),
    "customs_district": N_("Customs district (bonded)"),
    "ems_no": N_("Bonded account book (EMS) number"),
    "title": N_("Title"),
    "description": N_("Description"),
    "declared_name": N_("Name declared to customs (Chinese)"),
    "origin_country": N_("Country of origin"),
    "hs_code": N_("HS code"),
    "legal_unit": N_("Legal unit (customs code)"),
    "tax_category": N_("Tax category"),
    "brand_id": N_("Brand"),
    "supplier_id": N_("Supplier"),
    "return_exclusions": N_("What cannot be returned (shown to buyers; empty: nothing)"),
    "return_exclusions_zh": N_("What cannot be returned, in Chinese"),
    "image": N_("Image"),
    "images": N_("Image"),
    "original_price": N_("Original price (¥)"),
    "weight_grams": N_("Gross weight (g)"),
    "unit": N_("Unit (customs code)"),
    "gmodel": N_("Specification declared (gmodel)"),
    "net_content": N_("Net content"),
    "net_content_unit": N_("Net content unit"),
    "net_weight_grams": N_("Net weight (g)"),
    "packaging_weight_grams": N_("Packaging weight (g)"),
    "item_record_no": N_("Bonded item record number"),
    "sku_id": N_("SKU id"),
    "warehouse_id": N_("Warehouse id"),
    "on_hand": N_("Units on hand"),
    "channel": N_("Channel"),
    "starts_at": N_("Starts (China time)"),
    "ends_at": N_("Ends (China time)"),
    "preheat_at": N_("Pre-heat from (China time, optional)"),
    "sale_price": N_("Sale price (¥)"),
    "quantity": N_("Units to allot"),
    "per_buyer_limit": N_("Per-buyer limit"),
    "reason": N_("Reason (kept with the refund and in the audit log)"),
    "amount": N_("Amount in ¥ (empty: everything paid)"),
}


def for_request(request: Request, exc: DomainError) -> str:
    """The refusal as the page asking says it: a console page by this module, the storefront by its own."""
    language = request_language(request)
    if request.url.path.startswith(CONSOLE_PATHS):
        return said(language, exc)
    return messages.error_text(language, exc)


def said(language: Language, exc: DomainError) -> str:
    """The refusal in one or more sentences: its own, then, for a form's several problems, each field's."""
    first = exc.details[0] if exc.details else None
    text = _from_code(language, exc.code, exc, first) or _otherwise(language, exc)
    if exc.details and exc.code in LISTING:
        text = " ".join([text, *(field_problem(language, exc, detail) for detail in exc.details)])
    return text


def field_problems(language: Language, exc: DomainError) -> dict[str, str]:
    """Each field's problem beside the field (the first one said when a field has several)."""
    said_by_field: dict[str, str] = {}
    for detail in exc.details:
        said_by_field.setdefault(detail.field, field_problem(language, exc, detail, named=False))
    return said_by_field


def field_problem(language: Language, exc: DomainError, detail: FieldProblem, *, named: bool = True) -> str:
    """One field's problem by its own code (else its error's); ``named``: led by the field's label when
    the sentence does not name it."""
    code = detail.code or exc.code
    text = _from_code(language, code, exc, detail)
    if text is None:
        text = messages.sentence(detail.message) if language is EN else gettext_for(language, CHECK_FIELD)
    template = SAID.get(code, "")
    if named and "%(field)s" not in template:
        return f"{_field_name(language, detail.field)}: {text}"
    return text


def _from_code(language: Language, code: str, exc: DomainError, detail: FieldProblem | None) -> str | None:
    template = SAID.get(f"{code}.{exc.facts.get('action')}") or SAID.get(code) or messages.BY_CODE.get(code)
    if template is None:
        return None
    facts = _facts(language, exc.facts, detail)
    try:
        return gettext_for(language, template) % facts
    except (KeyError, ValueError, TypeError):  # a fact the sentence needs was not given: said otherwise
        return None


def _facts(language: Language, facts: Mapping[str, Any], detail: FieldProblem | None) -> dict[str, Any]:
    """The facts as the sentence shows them: states and roles as labels, a field as its label."""
    shown = dict(facts)
    for name in ("state", "role"):
        if name in facts:
            shown[name] = _inline(language, facts[name])
    if "roles" in facts:
        joiner = ", " if language is EN else "、"
        shown["roles"] = joiner.join(_inline(language, role) for role in facts["roles"])
    if detail is not None:
        shown["field"] = _field_name(language, detail.field)
    return shown


def _inline(language: Language, code: object) -> str:
    """A state's or role's label inside a sentence: lower case in English (“is live”)."""
    said = label(language, code)
    return said.lower() if language is EN else said


def _field_name(language: Language, field: str) -> str:
    """A field's label; ``skus.2.code`` is the SKU's code field."""
    name = field.rsplit(".", 1)[-1]
    known = FIELD_NAMES.get(name)
    return gettext_for(language, known) if known is not None else name.replace("_", " ")


def _otherwise(language: Language, exc: DomainError) -> str:
    return messages.error_text(language, exc)
