"""One public address: every partner URL the demo serves inside the platform follows FLASHPORT_PORT,
FLASHPORT_HOST or FLASHPORT_PUBLIC_URL, unless it is set itself."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from flashport.settings import PARTNER_PATHS, Settings


@pytest.fixture(autouse=True)
def _no_flashport_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("FLASHPORT_")]:
        monkeypatch.delenv(name)


def partner_urls(settings: Settings) -> dict[str, str]:
    return {name: getattr(settings, name) for name in PARTNER_PATHS}


def test_by_default_everything_is_on_port_8000_of_the_loopback() -> None:
    settings = Settings()
    assert settings.public_url == settings.listen_url == "http://127.0.0.1:8000"
    assert partner_urls(settings) == {
        "payment_gateway_url": "http://127.0.0.1:8000/sandbox/alipay/gateway.do",
        "payment_notify_url": "http://127.0.0.1:8000/api/v1/payments/alipay/notify",
        "payment_return_url": "http://127.0.0.1:8000/orders",
        "customs_url": "http://127.0.0.1:8000/sandbox/customs",
        "logistics_url": "http://127.0.0.1:8000/sandbox/logistics",
    }


def test_another_port_moves_every_partner_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHPORT_PORT", "18342")
    settings = Settings()
    assert settings.public_url == "http://127.0.0.1:18342"
    assert all(url.startswith("http://127.0.0.1:18342/") for url in partner_urls(settings).values())
    assert "8000" not in " ".join(partner_urls(settings).values())


def test_a_public_url_moves_them_and_an_explicit_partner_url_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHPORT_PUBLIC_URL", "https://shop.example.com/")
    monkeypatch.setenv("FLASHPORT_PAYMENT_GATEWAY_URL", "https://openapi.alipay.com/gateway.do")
    settings = Settings()
    assert settings.public_url == "https://shop.example.com"
    assert settings.listen_url == "http://127.0.0.1:8000"  # where serve listens does not move
    assert settings.payment_gateway_url == "https://openapi.alipay.com/gateway.do"
    assert settings.payment_notify_url == "https://shop.example.com/api/v1/payments/alipay/notify"
    assert settings.customs_url == "https://shop.example.com/sandbox/customs"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0.0.0.0", "http://127.0.0.1:9000"),  # listening everywhere: reached on the loopback here
        ("::", "http://127.0.0.1:9000"),
        ("::1", "http://[::1]:9000"),
        ("shop.internal", "http://shop.internal:9000"),
    ],
)
def test_the_derived_address_is_one_a_browser_on_this_machine_can_open(host: str, expected: str) -> None:
    settings = Settings(host=host, port=9000)
    assert settings.public_url == settings.listen_url == expected


def test_overrides_given_in_code_derive_the_same_way() -> None:
    settings = Settings(port=18342, payment_return_url="http://elsewhere/orders")
    assert settings.payment_notify_url == "http://127.0.0.1:18342/api/v1/payments/alipay/notify"
    assert settings.payment_return_url == "http://elsewhere/orders"


def test_a_public_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValidationError, match="FLASHPORT_PUBLIC_URL"):
        Settings(public_url="shop.example.com")


def _undo_after_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """_pin_address writes os.environ itself: let monkeypatch remove what it writes."""
    monkeypatch.setenv("FLASHPORT_HOST", "127.0.0.1")
    monkeypatch.setenv("FLASHPORT_PORT", "8000")


def test_serve_options_move_the_derived_urls_as_the_variables_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from flashport.cli import _pin_address

    _undo_after_the_test(monkeypatch)
    _pin_address("0.0.0.0", 18343)
    settings = Settings()  # what create_app loads in each uvicorn process
    assert (settings.host, settings.port) == ("0.0.0.0", 18343)
    assert settings.public_url == "http://127.0.0.1:18343"
    assert all(url.startswith("http://127.0.0.1:18343/") for url in partner_urls(settings).values())


def test_serve_options_leave_an_explicit_public_url_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from flashport.cli import _pin_address

    _undo_after_the_test(monkeypatch)
    monkeypatch.setenv("FLASHPORT_PUBLIC_URL", "https://shop.example.com")
    _pin_address(None, 18344)
    settings = Settings()
    assert settings.port == 18344
    assert settings.public_url == "https://shop.example.com"
    assert settings.customs_url == "https://shop.example.com/sandbox/customs"
