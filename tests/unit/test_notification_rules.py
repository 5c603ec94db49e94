"""The notifier's pure rules and its templates: who on a waitlist is told, which channels, backoff,
and messages in both languages with refund reasons in plain words."""

from __future__ import annotations

from datetime import timedelta

from flashport.adapters.notify.render import REASONS, render
from flashport.domain.notifications import (
    Channel,
    Kind,
    WaitingBuyer,
    channels,
    kind_of,
    message_values,
    retry_delay,
    to_tell,
)


def test_waiting_buyers_are_told_in_order_of_joining_as_many_as_units_came_back() -> None:
    waiting = [WaitingBuyer(7, 70), WaitingBuyer(3, 30), WaitingBuyer(5, 50)]
    assert [w.buyer_id for w in to_tell(waiting, 2)] == [30, 50]
    assert [w.buyer_id for w in to_tell(waiting, 9)] == [30, 50, 70]
    assert to_tell(waiting, 0) == []


def test_only_urgent_kinds_go_by_sms_and_only_with_a_mobile_number() -> None:
    assert channels(Kind.PAY_SOON, has_mobile=True) == (Channel.EMAIL, Channel.SMS)
    assert channels(Kind.PAY_SOON, has_mobile=False) == (Channel.EMAIL,)
    assert channels(Kind.SHIPPED, has_mobile=True) == (Channel.EMAIL,)


def test_retries_back_off_doubling_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [timedelta(seconds=s) for s in (30, 60, 120)]
    assert retry_delay(20) == timedelta(hours=1)


def test_the_records_the_notifier_follows() -> None:
    assert kind_of("order.paid") is Kind.PAID and kind_of("shipment.delivered") is Kind.DELIVERED
    assert kind_of("order.created") is None
    assert message_values("aftersale.refunded", {"order_no": "FP1"})["reason"] == "returned"


def test_messages_are_rendered_in_chinese_and_english() -> None:
    values = {
        "order_no": "FP1",
        "amount": "99.00",
        "reason": "sale_cancelled",
        "link": "https://x/orders/FP1",
    }
    english = render(Kind.REFUNDED, Channel.EMAIL, "en", values)
    assert english.subject == "Refund for order FP1"
    assert "because the sale was called off" in english.body and "https://x/orders/FP1" in english.body
    chinese = render(Kind.REFUNDED, Channel.EMAIL, "zh-CN", values)
    assert chinese.subject == "订单 FP1 退款通知" and "本场特卖已取消" in chinese.body
    sms = render(Kind.PAY_SOON, Channel.SMS, "xx", {"order_no": "FP1", "link": "L"})  # unknown: Chinese
    assert sms.body == "【Flashport】订单 FP1 还剩 5 分钟付款。L"


def test_every_kind_renders_on_every_channel_in_both_languages() -> None:
    values = {
        "order_no": "FP1",
        "amount": "1.00",
        "logistics_no": "SF1",
        "title": "T",
        "link": "L",
        "reason": "x",
    }
    for kind in Kind:
        for channel in Channel:
            for language in ("zh-CN", "en"):
                text = render(kind, channel, language, values)
                assert text.subject and text.body, (kind, channel, language)
    assert set(REASONS) >= {"late_payment", "annual_limit", "customs_rejected", "returned"}


def test_every_refund_reason_is_told_in_plain_words_and_a_refund_is_told_once() -> None:
    from flashport.adapters.notify.render import REASONS
    from flashport.domain.notifications import kind_of
    from flashport.domain.payments import RefundReason

    assert {r.value for r in RefundReason} <= set(REASONS)
    assert kind_of("refund.succeeded") is not None
    assert kind_of("aftersale.refunded") is None  # its refund.succeeded tells the buyer
