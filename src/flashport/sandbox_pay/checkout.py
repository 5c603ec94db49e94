"""What the buyer's browser posts from the hosted payment page: confirm or decline.

Both answer with a 303 back to the merchant's ``return_url`` (with Alipay's signed return parameters),
or with a page of their own when the merchant gave none.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from flashport.sandbox_pay import pages
from flashport.sandbox_pay.gateway import provider_of
from flashport.sandbox_pay.provider import PAYER_NOT_BUYER, SandboxProvider
from flashport.sandbox_pay.trades import Trade
from flashport.sandbox_pay.wire import GatewayError


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


async def confirm(request: Request) -> Response:
    provider = provider_of(request)
    form = await request.form()
    payer = (_field(form, "payer_name"), _field(form, "payer_id_number"))
    try:
        trade = await provider.by_trade_no(request.path_params["trade_no"])
    except GatewayError:
        return HTMLResponse(
            pages.message_page("No such trade", "This trade does not exist.", alert=True), 404
        )
    try:
        trade = await provider.pay(trade, *payer)
    except GatewayError as refusal:
        if refusal.sub_code == "ACQ.TRADE_HAS_SUCCESS":  # a second click on Confirm: go back again
            return _back_to_merchant(provider, await provider.by_trade_no(trade.trade_no), "Paid")
        if refusal.sub_code in (PAYER_NOT_BUYER, "ACQ.INVALID_PARAMETER"):
            # The page again with what went wrong: the trade is still open for the right payer.
            page = pages.payment_page(
                trade,
                merchant=provider.settings.merchant_name,
                base=request.scope.get("root_path", ""),
                payer=payer,
                buyer_only=await provider.trades.specified_buyer(trade.trade_no) is not None,
                error=refusal.sub_msg,
            )
            return HTMLResponse(page, 403 if refusal.sub_code == PAYER_NOT_BUYER else 422)
        return HTMLResponse(pages.message_page("Payment refused", refusal.sub_msg, trade, alert=True), 409)
    return _back_to_merchant(provider, trade, "Paid")


async def decline(request: Request) -> Response:
    provider = provider_of(request)
    try:
        trade = await provider.by_trade_no(request.path_params["trade_no"])
        trade = await provider.decline(trade)
    except GatewayError as refusal:
        status = 404 if refusal.sub_code == "ACQ.TRADE_NOT_EXIST" else 409
        return HTMLResponse(pages.message_page("Cannot decline", refusal.sub_msg, alert=True), status)
    return _back_to_merchant(provider, trade, "Payment declined")


def _back_to_merchant(provider: SandboxProvider, trade: Trade, title: str) -> Response:
    if not trade.return_url:
        message = f"You can close this page and return to {provider.settings.merchant_name}."
        return HTMLResponse(pages.message_page(title, message, trade))
    return RedirectResponse(_with_query(trade.return_url, provider.signed_return(trade)), status_code=303)


def _with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to whatever query it already has."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))
