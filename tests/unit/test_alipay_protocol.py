"""Our RSA2 conventions agree with a well-known third-party Alipay SDK (python-alipay-sdk), both ways."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alipay import AliPay

from flashport.adapters.payments import alipay
from flashport.adapters.payments import alipay_protocol as proto
from flashport.adapters.payments.alipay import AlipayKeys
from flashport.bootstrap import payment_keys
from flashport.settings import Settings

MERCHANT = proto.generate_keypair()
PROVIDER = proto.generate_keypair()


def sdk_as_merchant() -> AliPay:
    return AliPay(
        appid="2026000000000001",
        app_notify_url=None,
        app_private_key_string=MERCHANT[0],
        alipay_public_key_string=PROVIDER[1],
        sign_type="RSA2",
    )


def sdk_as_provider() -> AliPay:
    """The same library, holding the provider's private key: it signs notifications like Alipay."""
    return AliPay(
        appid="2026000000000001",
        app_notify_url=None,
        app_private_key_string=PROVIDER[0],
        alipay_public_key_string=PROVIDER[1],
        sign_type="RSA2",
    )


NOTIFICATION = {
    "notify_time": "2026-11-25 20:01:02",
    "notify_type": "trade_status_sync",
    "notify_id": "n-1",
    "app_id": "2026000000000001",
    "charset": "utf-8",
    "version": "1.0",
    "trade_no": "2026112522001",
    "out_trade_no": "FP20261125120000ABCDEF01",
    "total_amount": "99.00",
    "trade_status": "TRADE_SUCCESS",
    "gmt_payment": "2026-11-25 20:01:01",
}


def test_a_notification_we_sign_verifies_with_the_sdk() -> None:
    signed = proto.signed_notification(NOTIFICATION, proto.load_private_key(PROVIDER[0]))
    data = dict(signed)
    signature = data.pop("sign")
    assert sdk_as_merchant().verify(data, signature)


def test_a_notification_the_sdk_signs_verifies_with_us() -> None:
    sdk = sdk_as_provider()
    unsigned = "&".join(f"{k}={v}" for k, v in sorted(NOTIFICATION.items()))
    signed = {**NOTIFICATION, "sign_type": "RSA2", "sign": sdk._sign(unsigned)}
    assert proto.verify_notification(signed, proto.load_public_key(PROVIDER[1]))


def test_a_tampered_or_forged_notification_fails() -> None:
    key = proto.load_private_key(PROVIDER[0])
    signed = proto.signed_notification(NOTIFICATION, key)
    public = proto.load_public_key(PROVIDER[1])
    assert not proto.verify_notification({**signed, "total_amount": "0.01"}, public)
    forged = proto.signed_notification(NOTIFICATION, proto.load_private_key(MERCHANT[0]))
    assert not proto.verify_notification(forged, public)
    assert not proto.verify_notification({**signed, "sign": "not base64!"}, public)
    assert not proto.verify_notification({k: v for k, v in signed.items() if k != "sign"}, public)


def test_a_request_the_sdk_builds_verifies_with_us() -> None:
    query = sdk_as_merchant().api_alipay_trade_page_pay(
        subject="a2 milk", out_trade_no="FP1", total_amount="99.00", notify_url="http://127.0.0.1/notify"
    )
    from urllib.parse import parse_qsl

    params = dict(parse_qsl(query))
    assert proto.verify_request(params, proto.load_public_key(MERCHANT[1]))


def test_a_response_we_sign_verifies_with_the_sdk() -> None:
    body = proto.signed_response(
        "alipay.trade.query",
        {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": "FP1",
            "trade_status": "TRADE_SUCCESS",
            "subject": "奶粉 {x}",
        },
        proto.load_private_key(PROVIDER[0]),
    )
    node = sdk_as_merchant()._verify_and_return_sync_response(body, "alipay_trade_query_response")
    assert node["trade_status"] == "TRADE_SUCCESS"
    assert (
        proto.verify_response(body, "alipay.trade.query", proto.load_public_key(PROVIDER[1]))["subject"]
        == "奶粉 {x}"
    )


@pytest.mark.parametrize("fen,text", [(0, "0.00"), (9900, "99.00"), (1, "0.01"), (500000, "5000.00")])
def test_amounts_are_yuan_with_two_decimals(fen: int, text: str) -> None:
    assert proto.yuan(fen) == text


def test_keys_load_from_pem_or_from_the_bare_base64_the_console_shows() -> None:
    private, public = proto.generate_keypair()
    bare = "".join(line for line in public.splitlines() if not line.startswith("-----"))
    assert proto.load_public_key(bare).public_numbers() == proto.load_public_key(public).public_numbers()
    proto.load_private_key(private)


def test_the_production_adapter_imports_no_sandbox_module() -> None:
    """Which keys the adapter gets is the composition root's choice: it knows no sandbox itself."""
    tree = ast.parse(Path(alipay.__file__).read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert imported and not [name for name in imported if name.startswith("flashport.sandbox")]


def test_bootstrap_takes_the_keys_from_settings_and_else_the_sandbox_demo_keys(tmp_path: Path) -> None:
    configured = Settings(
        env="test",
        data_dir=tmp_path,
        payment_app_private_key=MERCHANT[0],
        payment_provider_public_key=PROVIDER[1],
    )
    assert payment_keys(configured) == AlipayKeys(MERCHANT[0], PROVIDER[1])
    assert not (tmp_path / "sandbox-pay").exists()  # the sandbox was not asked

    demo = payment_keys(Settings(env="test", data_dir=tmp_path))
    sandbox = tmp_path / "sandbox-pay"
    assert demo == AlipayKeys(
        (sandbox / "merchant_private.pem").read_text(), (sandbox / "provider_public.pem").read_text()
    )
    assert payment_keys(Settings(env="test", data_dir=tmp_path)) == demo  # made once, then reused
