"""What a refusal says to a buyer, in the buyer's language, chosen by the error's ``code``.

The services write their messages in English for the API and the logs; the storefront never shows
them to a Chinese reader. Each code a buyer can meet has a sentence here (marked with ``N_`` and
translated in the catalogues); a field's problem is said by its code too. A code not listed falls back
to a sentence per kind of error, and for English readers to the service's own message.
"""

from __future__ import annotations

from flashport.domain.errors import (
    Conflict,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from flashport.web.i18n import EN, N_, Language, gettext_for

# Codes a buyer can meet on the storefront, said as a whole sentence.
BY_CODE: dict[str, str] = {
    # After-sales (returns).
    "not_delivered": N_("A parcel can be returned once it has been delivered."),
    "return_window_closed": N_("The time to return this parcel has passed."),
    "return_exists": N_("You already asked to return this parcel."),
    "reason_required": N_("Please say why you are returning the parcel."),
    "reason_too_long": N_("Please keep the reason under 200 characters."),
    "sold_out": N_(
        "Every unit is reserved now; units of unpaid orders come back when their payment window closes."
    ),
    "buyer_limit_reached": N_("You already hold as many units of this item as one buyer may."),
    "sale_not_started": N_("This sale has not started yet."),
    "sale_ended": N_("This sale has ended."),
    "sale_item_not_found": N_("This item is not on sale."),
    "event_not_found": N_("This sale does not exist or was withdrawn."),
    "invalid_quantity": N_("Choose a quantity of at least 1, within the limit per buyer."),
    "insufficient_stock": N_("Not enough units are left for this quantity."),
    "idempotency_key_in_progress": N_(
        "Your purchase is still being processed. Wait a moment, then look in My orders."
    ),
    "idempotency_key_reused": N_(
        "This purchase was already made with another quantity. Reload the page to buy again."
    ),
    "invalid_idempotency_key": N_("This form is out of date. Reload the page and try again."),
    "idempotency_key_required": N_("This form is out of date. Reload the page and try again."),
    "stock_engine_unavailable": N_("Buying is briefly unavailable. Please try again in a moment."),
    "payments_unavailable": N_("Payment is briefly unavailable. Please try again in a moment."),
    "payment_busy": N_("A payment of this order is already in progress. Wait a moment, then reload."),
    "rate_limited": N_("Too many attempts in a short time. Please wait a moment and try again."),
    "sale_paused": N_("This sale is paused for a moment. Please try again shortly."),
    "csrf_failed": N_("This form has expired. Reload the page and send it again."),
    "login_required": N_("Please log in first."),
    "buyers_only": N_("Only buyer accounts can buy and pay; you are logged in as an operator or supplier."),
    "forbidden_role": N_("Your account may not do this."),
    "bad_credentials": N_("The email or the password is wrong."),
    "email_taken": N_("An account with this email already exists. Log in instead."),
    "invalid_email": N_("Enter an email address like name@example.com."),
    "weak_password": N_(
        "Choose a password of at least 10 characters that is not your email address and not a common one."
    ),
    "login_locked": N_("Too many failed log-ins. Please wait a few minutes, then try again."),
    "invalid_name": N_("Enter 2 to 30 Chinese or Latin letters, with · or spaces between parts."),
    "order_not_found": N_("This order does not exist, or it is not yours."),
    "order_not_payable": N_("This order can no longer be paid."),
    "order_not_cancellable": N_("This order can no longer be cancelled."),
    "checkout_required": N_("Complete checkout first: choose the buyer and the delivery address."),
    "checkout_not_found": N_("Complete checkout first: choose the buyer and the delivery address."),
    "checkout_after_payment": N_(
        "Payment of this order has already started, so its buyer, address and amount are final."
    ),
    "payment_window_closed": N_("The time to pay this order ran out, so its units went back on sale."),
    "payment_not_found": N_("No payment of this order was found."),
    "single_transaction_limit": N_(
        "This order is over the cross-border limit for one order. "
        "Cancel it and buy fewer units in each order."
    ),
    "annual_limit_exceeded": N_(
        "This would pass the buyer's yearly cross-border limit. Choose another buyer, or buy less."
    ),
    "identity_required": N_("Choose who is buying, or add a new identity."),
    "identity_not_found": N_("That identity no longer exists: choose another, or add it again."),
    "identity_already_added": N_(
        "This ID number is already one of your identities: choose it in the list instead."
    ),
    "invalid_id_number": N_("An ID number is 17 digits and a check digit (a digit or X)."),
    "id_region_unknown": N_(
        "The first six digits of this ID number are not a region of China: is one mistyped?"
    ),
    "buyer_phone_required": N_(
        "Give the buyer's own phone number: customs asks for it when the parcel goes to someone else."
    ),
    "id_check_digit_mismatch": N_("The check digit does not match: is a digit mistyped?"),
    "id_birth_date_invalid": N_("Digits 7 to 14 of this ID number are not a possible birth date."),
    "invalid_phone": N_("Enter a mainland China mobile number: 11 digits starting 13-19."),
    "invalid_address": N_("Enter the street, building and room number (at most 200 characters)."),
    "invalid_district": N_("Choose the province, city and district from the lists."),
    "invalid_characters": N_("Remove the line breaks and special characters from this field."),
    "address_not_found": N_("That address no longer exists: choose another, or add it again."),
    "address_limit": N_("You have saved as many addresses as one account may keep. Remove one first."),
    "address_required": N_("Choose a saved address, or enter a new one."),
}

# When a code is not listed: a sentence per kind of error.
BY_KIND: tuple[tuple[type[DomainError], str], ...] = (
    (InvalidInput, N_("Please check what you entered.")),
    (NotFound, N_("This page or item does not exist.")),
    (Conflict, N_("This is not possible right now.")),
    (Unauthenticated, N_("Please log in first.")),
    (Forbidden, N_("Your account may not do this.")),
    (RateLimited, N_("Too many attempts in a short time. Please wait a moment and try again.")),
    (ServiceUnavailable, N_("This is briefly unavailable. Please try again in a moment.")),
)
SOMETHING_WRONG = N_("Something went wrong. Please try again.")

# The titles of the error page, per HTTP status.
TITLES = {
    403: N_("Not allowed"),
    404: N_("Not found"),
    409: N_("Not possible right now"),
    422: N_("Please check your input"),
    429: N_("Too many attempts"),
    503: N_("Temporarily unavailable"),
}
TITLE_OTHERWISE = N_("Something went wrong")


def sentence(message: str) -> str:
    """Service messages are lower-case clauses ("this item is sold out"); people read sentences."""
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")


def error_text(language: Language, exc: DomainError) -> str:
    """The refusal as one sentence in the reader's language."""
    known = BY_CODE.get(exc.code)
    if known is not None:
        return gettext_for(language, known)
    if language is EN:
        return sentence(exc.message)
    kind = next((text for cls, text in BY_KIND if isinstance(exc, cls)), SOMETHING_WRONG)
    return gettext_for(language, kind)


def problem_text(language: Language, code: str, problem: FieldProblem) -> str:
    """A field's problem: by its code when it is listed, else the service's hint (English only)."""
    known = BY_CODE.get(code)
    if known is not None:
        return gettext_for(language, known)
    if language is EN:
        return sentence(problem.message)
    return gettext_for(language, BY_KIND[0][1])


def title_for(language: Language, status: int) -> str:
    return gettext_for(language, TITLES.get(status, TITLE_OTHERWISE))
