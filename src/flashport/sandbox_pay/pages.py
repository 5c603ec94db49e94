"""The hosted pages the buyer sees: the payment page and short message pages.

Self-contained (inline CSS, no scripts, no external resources) so the sandbox works offline, and plain
HTML forms with labelled fields and real buttons so keyboards and screen readers can pay too. Links are
built from the mount point (``root_path``), so the pages work standalone and mounted in the demo.
"""

from __future__ import annotations

from jinja2 import Environment
from markupsafe import Markup

from flashport.sandbox_pay.trades import Trade

_STYLE = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f2f4f7;color:#1d2433}
main{max-width:30rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem 2rem;
box-shadow:0 2px 10px #0002}.banner{background:#fff4d6;border:1px solid #e6b800;border-radius:6px;
padding:.4rem .8rem;font-size:.9rem}h1{font-size:1.4rem;margin:.8rem 0}dl{display:grid;
grid-template-columns:auto 1fr;gap:.3rem 1rem}dt{color:#5a6478}dd{margin:0;overflow-wrap:anywhere}
.amount{font-size:2rem;font-weight:700;color:#0b57d0}label{display:block;margin-top:1rem;font-weight:600}
input{width:100%;padding:.6rem;font-size:1rem;border:1px solid #8a94a6;border-radius:6px;margin-top:.3rem}
.actions{display:flex;gap:1rem;margin-top:1.5rem}button{flex:1;padding:.8rem;font-size:1rem;
border-radius:6px;border:2px solid #0b57d0;cursor:pointer}.confirm{background:#0b57d0;color:#fff}
.decline{background:#fff;color:#0b57d0}button:focus-visible,input:focus-visible{outline:3px solid #e6b800;
outline-offset:2px}.error{color:#b3261e;font-weight:600}
"""

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{ title }} · Sandbox Pay</title><style>{{ style }}</style></head>
<body><main>
<p class="banner" role="note">Sandbox Pay: a test provider that behaves like Alipay. No real money moves.</p>
<h1>{{ title }}</h1>
{{ body }}
</main></body></html>
"""

_PAYMENT = """<dl>
<dt>Merchant</dt><dd>{{ merchant }}</dd>
<dt>Item</dt><dd>{{ trade.subject }}</dd>
<dt>Order number</dt><dd>{{ trade.out_trade_no }}</dd>
<dt>Trade number</dt><dd>{{ trade.trade_no }}</dd>
</dl>
<p class="amount" aria-label="Amount to pay: {{ trade.total_amount }} yuan">¥{{ trade.total_amount }}</p>
{% if buyer_only %}
<p id="buyer-only">{{ merchant }} named the buyer of this order: only that person can pay it.</p>
{% endif %}
{% if error %}<p class="error" id="payer-error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ base }}/pay/{{ trade.trade_no }}/confirm">
<label for="payer_name">Payer's name (as on the ID card)</label>
<input id="payer_name" name="payer_name" value="{{ payer_name }}" required maxlength="64" autocomplete="name"
{% if error %}aria-describedby="payer-error"{% endif %}>
<label for="payer_id_number">Payer's resident ID number (18 characters)</label>
<input id="payer_id_number" name="payer_id_number" value="{{ payer_id_number }}" required
minlength="18" maxlength="18" pattern="[0-9]{17}[0-9Xx]" autocomplete="off" spellcheck="false"
{% if error %}aria-describedby="payer-error"{% endif %}>
<div class="actions">
<button type="submit" class="confirm">Confirm payment</button>
<button type="submit" class="decline" formaction="{{ base }}/pay/{{ trade.trade_no }}/decline"
formnovalidate>Decline</button>
</div>
</form>
"""

_MESSAGE = """<p{% if alert %} role="alert"{% endif %}>{{ message }}</p>
{% if trade %}<dl><dt>Order number</dt><dd>{{ trade.out_trade_no }}</dd>
<dt>Amount</dt><dd>¥{{ trade.total_amount }}</dd>
<dt>Status</dt><dd>{{ trade.status.value }}</dd></dl>{% endif %}
"""

_jinja = Environment(autoescape=True)
_layout, _payment, _message = (_jinja.from_string(t) for t in (_LAYOUT, _PAYMENT, _MESSAGE))


def _page(title: str, body: str) -> str:
    # ``body`` was rendered with autoescape already; marked safe so it is not escaped twice.
    return _layout.render(title=title, style=Markup(_STYLE), body=Markup(body))


def payment_page(
    trade: Trade,
    *,
    merchant: str,
    base: str,
    payer: tuple[str, str],
    buyer_only: bool = False,
    error: str | None = None,
) -> str:
    """``buyer_only``: the merchant named the buyer (``ext_user_info``), and the page says so."""
    body = _payment.render(
        trade=trade,
        merchant=merchant,
        base=base,
        payer_name=payer[0],
        payer_id_number=payer[1],
        buyer_only=buyer_only,
        error=error,
    )
    return _page(f"Pay {merchant}", body)


def message_page(title: str, message: str, trade: Trade | None = None, *, alert: bool = False) -> str:
    return _page(title, _message.render(message=message, trade=trade, alert=alert))
