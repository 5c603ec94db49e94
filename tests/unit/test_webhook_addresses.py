"""Where webhooks may go (SSRF), pure: the URL's shape (https only in production), which addresses are
refused (loopback, private, link-local, shared, reserved; metadata services always), and the sealing
of endpoint secrets at rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashport.adapters.secret_box import SecretBox, derived_key
from flashport.domain.errors import InvalidInput
from flashport.domain.webhooks import address_refused, check_endpoint_url, new_secret
from flashport.settings import Settings


def test_a_webhook_url_is_https_in_production_and_names_a_host_without_credentials() -> None:
    assert check_endpoint_url("https://erp.example.com/hooks", production=True)
    assert check_endpoint_url("http://erp.example.com/hooks")
    for url, production in [
        ("http://erp.example.com/hooks", True),
        ("ftp://erp.example.com/x", False),
        ("https://user:pw@erp.example.com/", False),
        ("https:///nohost", False),
        ("https://erp.example.com:99999/", False),
        ("https://erp.example.com/" + "a" * 500, False),
    ]:
        with pytest.raises(InvalidInput) as refused:
            check_endpoint_url(url, production=production)
        assert refused.value.code == "invalid_webhook_url"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.10.10",
        "100.64.0.1",
        "0.0.0.0",
        "fe80::1",
        "fd12::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_refused_unless_allowed(address: str) -> None:
    assert address_refused(address, allow_private=False)
    assert address_refused(address, allow_private=True) is None


@pytest.mark.parametrize("address", ["169.254.169.254", "100.100.100.200", "168.63.129.16", "fd00:ec2::254"])
def test_cloud_metadata_addresses_are_refused_even_where_private_ones_are_allowed(address: str) -> None:
    assert "metadata" in (address_refused(address, allow_private=True) or "")


def test_public_addresses_are_allowed() -> None:
    assert address_refused("93.184.216.34", allow_private=False) is None
    assert address_refused("2606:2800:220:1:248:1893:25c8:1946", allow_private=False) is None


def test_private_addresses_are_allowed_by_default_only_outside_production() -> None:
    assert Settings(env="development").webhooks_reach_private_addresses
    assert not Settings(
        env="development", webhook_allow_private_addresses=False
    ).webhooks_reach_private_addresses
    production = Settings(
        env="production",
        secret_key="x" * 40,
        identity_key="k",
        identity_hash_key="h" * 40,
        payment_app_private_key="k",
        payment_provider_public_key="k",
    )
    assert not production.webhooks_reach_private_addresses


def test_endpoint_secrets_are_sealed_and_a_rotated_key_still_opens_older_ones(tmp_path: Path) -> None:
    secret = new_secret()
    # Every key given (the keyring makes no file in the data directory).
    keys = {"data_dir": tmp_path, "identity_key": "i" * 44, "identity_hash_key": "h" * 40}
    old = SecretBox(Settings(secret_key="a" * 40, **keys))
    sealed = old.seal(secret)
    assert secret not in sealed and old.open(sealed) == secret
    newer = derived_key("b" * 40)
    rotated = SecretBox(Settings(partner_secrets_key=f"{newer},{derived_key('a' * 40)}", **keys))
    assert rotated.open(sealed) == secret
    assert SecretBox(Settings(partner_secrets_key=newer, **keys)).open(rotated.seal(secret)) == secret
    # With no sealing key of its own, a rotated secret key still opens what the previous one sealed.
    after = SecretBox(Settings(secret_key="c" * 40, previous_secret_keys="a" * 40, **keys))
    assert after.open(sealed) == secret
    assert not (tmp_path / "secrets.json").exists()
