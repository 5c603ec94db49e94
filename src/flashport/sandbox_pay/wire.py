"""The messages the sandbox sends, shaped like Alipay's: notifications, the synchronous return to the
merchant's page, API response nodes and their error codes. Unsigned here; the provider signs them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flashport.adapters.payments import alipay_protocol
from flashport.sandbox_pay.trades import Refund, Trade, china_time

PAGE_PAY = "alipay.trade.page.pay"
PAGE_PAY_RETURN = "alipay.trade.page.pay.return"
PAYER_CERT_TYPE = "IDENTITY_CARD"  # ext_user_info's cert_type for the resident ID card
_MESSAGES = {
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
    "20000": "Service Currently Unavailable",
}


class GatewayError(Exception):
    """A refusal in Alipay's public terms: ``code`` (400xx) and a ``sub_code`` such as
    ``ACQ.TRADE_NOT_EXIST``. API methods answer it as a signed node, the hosted page as HTML."""

    def __init__(self, code: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(f"{sub_code}: {sub_msg}")
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg

    def node(self) -> dict[str, str]:
        return {
            "code": self.code,
            "msg": _MESSAGES[self.code],
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
        }


def business_error(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40004", sub_code, sub_msg)


def trade_not_found() -> GatewayError:
    return business_error("ACQ.TRADE_NOT_EXIST", "trade does not exist")


def success(**fields: Any) -> dict[str, Any]:
    return {"code": alipay_protocol.SUCCESS_CODE, "msg": "Success", **fields}


def _paid_amount(trade: Trade) -> str:
    return trade.total_amount if trade.is_paid else "0.00"


def notification(trade: Trade, *, notify_id: str, seller_id: str, now: datetime) -> dict[str, str]:
    """Alipay's ``trade_status_sync`` fields, and only those: no payer identity travels back (the
    buyer the trade was opened for is the only one who could pay it)."""
    fields = {
        "notify_time": china_time(now),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "charset": alipay_protocol.CHARSET,
        "version": "1.0",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "seller_id": seller_id,
        "trade_status": trade.status.value,
        "total_amount": trade.total_amount,
        "receipt_amount": _paid_amount(trade),
        "buyer_pay_amount": _paid_amount(trade),
        "subject": trade.subject,
        "gmt_create": china_time(trade.created_at),
    }
    optional = {
        "buyer_id": trade.buyer_id,
        "gmt_payment": trade.paid_at and china_time(trade.paid_at),
        "gmt_close": trade.closed_at and china_time(trade.closed_at),
    }
    return {**fields, **{k: v for k, v in optional.items() if v}}


def return_params(trade: Trade, *, seller_id: str, now: datetime) -> dict[str, str]:
    """The parameters Alipay adds to ``return_url`` when it sends the buyer back. They say nothing of
    the outcome: the merchant must query, or wait for the notification."""
    return {
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "charset": alipay_protocol.CHARSET,
        "method": PAGE_PAY_RETURN,
        "out_trade_no": trade.out_trade_no,
        "seller_id": seller_id,
        "timestamp": china_time(now),
        "total_amount": trade.total_amount,
        "trade_no": trade.trade_no,
        "version": "1.0",
    }


def query_node(trade: Trade) -> dict[str, Any]:
    paid = (
        {"send_pay_date": china_time(trade.paid_at), "buyer_user_id": trade.buyer_id} if trade.paid_at else {}
    )
    return success(
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        trade_status=trade.status.value,
        total_amount=trade.total_amount,
        buyer_pay_amount=_paid_amount(trade),
        receipt_amount=_paid_amount(trade),
        subject=trade.subject,
        **paid,
    )


def refund_node(trade: Trade, refund: Refund, *, fund_change: bool) -> dict[str, Any]:
    return success(
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        buyer_user_id=trade.buyer_id,
        fund_change="Y" if fund_change else "N",
        refund_fee=alipay_protocol.yuan(refund.refunded_total_fen),
        send_back_fee=alipay_protocol.yuan(refund.refund_fen),
        out_request_no=refund.out_request_no,
        gmt_refund_pay=china_time(refund.created_at),
    )


def refund_query_node(trade: Trade, refund: Refund | None, out_request_no: str = "") -> dict[str, Any]:
    """``alipay.trade.fastpay.refund.query``: the refund made under a request number, or (``refund``
    None) the trade alone: Alipay's answer for a number it made no refund of."""
    if refund is None:
        return success(
            trade_no=trade.trade_no, out_trade_no=trade.out_trade_no, out_request_no=out_request_no
        )
    return success(
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        out_request_no=refund.out_request_no,
        total_amount=trade.total_amount,
        refund_amount=alipay_protocol.yuan(refund.refund_fen),
        refund_status="REFUND_SUCCESS",
        gmt_refund_pay=china_time(refund.created_at),
    )


def close_node(trade: Trade) -> dict[str, Any]:
    return success(trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)
