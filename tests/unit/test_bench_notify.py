"""bench-notify's notifications are what a provider signing with python-alipay-sdk posts, byte for byte,
and the platform's verification accepts them."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

from alipay import AliPay

from flashport.adapters.payments import alipay_protocol as proto
from flashport.bench import notify as bench

APP_ID = "2026000000000001"


def test_a_bench_notification_is_the_form_python_alipay_sdk_produces() -> None:
    private, public = proto.generate_keypair()
    fields = bench.notification_fields(
        APP_ID, "N1234560000001", 9_900, datetime(2026, 11, 25, 12, tzinfo=UTC)
    )
    sdk = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=private,
        alipay_public_key_string=public,
        sign_type="RSA2",
    )
    unsigned = {k: v for k, v in fields.items() if k != "sign_type"}  # sent alongside, never signed
    expected = sdk.sign_data(dict(unsigned)) + "&sign_type=RSA2"
    body = bench.signed_form(fields, proto.load_private_key(private))
    assert body.decode() == expected
    posted = dict(parse_qsl(body.decode(), keep_blank_values=True))
    assert posted["subject"] == "Flashport order N1234560000001" and posted["total_amount"] == "99.00"
    assert proto.verify_notification(posted, proto.load_public_key(public))
    assert sdk.verify({k: v for k, v in posted.items() if k != "sign"}, posted["sign"])
    posted["total_amount"] = "0.01"
    assert not proto.verify_notification(posted, proto.load_public_key(public))


def test_duplicates_repeat_a_share_of_the_notifications_once_each_in_a_fixed_order() -> None:
    bodies = [f"n{i}".encode() for i in range(100)]
    sent = bench.with_duplicates(bodies, 0.1)
    assert len(sent) == 110 and set(sent) == set(bodies)
    assert sorted(n for n in set(sent) if sent.count(n) > 1) == sorted(
        n for n in bodies if sent.count(n) == 2
    )
    assert sum(1 for n in bodies if sent.count(n) == 2) == 10
    assert bench.with_duplicates(bodies, 0.1) == sent  # the same sequence every run
    assert sorted(bench.with_duplicates(bodies, 0)) == sorted(bodies)
