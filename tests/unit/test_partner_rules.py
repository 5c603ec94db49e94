"""Pure partner rules: links per kind, what each kind receives, buyer data reduced, and the webhook
signature and retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from flashport.domain.errors import InvalidInput
from flashport.domain.partners import PartnerKind, check_link, city_of, kind_wants, mask_phone, thin
from flashport.domain.webhooks import RETRY_SCHEDULE, Outcome, judge, new_secret, sign

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_each_kind_is_linked_to_exactly_its_own_reference() -> None:
    check_link(PartnerKind.SUPPLIER, 7, None, None)
    check_link(PartnerKind.CARRIER, None, "SF", None)
    check_link(PartnerKind.PAYMENT_COMPANY, None, None, "alipay")
    check_link(PartnerKind.CUSTOMS_BROKER, None, None, None)
    for kind, link in [
        (PartnerKind.SUPPLIER, (None, None, None)),
        (PartnerKind.CARRIER, (None, None, "alipay")),
        (PartnerKind.PAYMENT_COMPANY, (3, None, "alipay")),
        (PartnerKind.CUSTOMS_BROKER, (None, "SF", None)),
    ]:
        with pytest.raises(InvalidInput):
            check_link(kind, *link)


def test_each_kind_receives_only_its_types() -> None:
    assert kind_wants(PartnerKind.SUPPLIER, "order.paid") and kind_wants(
        PartnerKind.SUPPLIER, "stock.changed"
    )
    assert not kind_wants(PartnerKind.SUPPLIER, "payment.created")
    assert kind_wants(PartnerKind.CARRIER, "order.shipped") and not kind_wants(
        PartnerKind.CARRIER, "order.paid"
    )
    assert kind_wants(PartnerKind.PAYMENT_COMPANY, "refund.requested")
    assert not kind_wants(PartnerKind.PAYMENT_COMPANY, "order.created")
    assert not kind_wants(PartnerKind.CUSTOMS_BROKER, "order.created")
    assert not kind_wants(PartnerKind.SUPPLIER, "order")  # a prefix matches only whole segments


def test_buyer_data_is_reduced_to_a_masked_phone_and_a_city() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "*****" and mask_phone(None) is None
    assert city_of("310115") == "310100" and city_of("31011") is None and city_of(None) is None
    assert thin({"order_no": "FP1", "buyer_name": "张三", "order_id": "x", "amount": "1.00"}) == {
        "order_no": "FP1",
        "amount": "1.00",
    }


def test_signatures_are_hmac_sha256_over_id_timestamp_body_and_verify_with_the_reference_library() -> None:
    old, new = new_secret(), new_secret()
    assert len(base64.b64decode(new.removeprefix("whsec_"))) == 32
    body = '{"type":"order.paid"}'
    timestamp = int(datetime.now(UTC).timestamp())
    header = sign([new, old], "msg_1", timestamp, body)
    first = header.split(" ")[0].removeprefix("v1,")
    expected = hmac.new(
        base64.b64decode(new[6:]), f"msg_1.{timestamp}.{body}".encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(first) == expected
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp), "webhook-signature": header}
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_the_retry_schedule_grows_over_more_than_a_day_and_then_gives_up() -> None:
    assert [judge(500, None, n, NOW).retry_at for n in range(1, 8)] == [NOW + d for d in RETRY_SCHEDULE]
    assert sum(RETRY_SCHEDULE, timedelta()) > timedelta(days=1)
    assert judge(500, None, 8, NOW) == judge(None, None, 8, NOW)
    assert judge(500, None, 8, NOW).retry_at is None
    assert judge(204, None, 3, NOW).outcome is Outcome.DELIVERED
    assert judge(410, None, 1, NOW).outcome is Outcome.GONE


def test_retry_after_is_honoured_on_429_and_503_within_a_cap() -> None:
    assert judge(429, "120", 1, NOW).retry_at == NOW + timedelta(seconds=120)
    assert judge(503, "1", 2, NOW).retry_at == NOW + timedelta(minutes=5)  # never sooner than the schedule
    assert judge(429, "999999", 1, NOW).retry_at == NOW + timedelta(hours=10)
    assert judge(500, "120", 1, NOW).retry_at == NOW + timedelta(seconds=5)  # only 429 and 503 ask to wait
