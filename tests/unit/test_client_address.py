"""The client address behind trusted proxies (the buy edge's per-address rate limit)."""

from __future__ import annotations

from flashport.api.buy.client_address import TrustedProxies


def test_a_peer_that_is_no_trusted_proxy_is_the_client_whatever_it_forwards() -> None:
    proxies = TrustedProxies("10.0.0.1")
    assert proxies.client("192.0.2.9", b"203.0.113.5") == "192.0.2.9"
    assert proxies.client("10.0.0.1", None) == "10.0.0.1"
    assert not TrustedProxies("").any and TrustedProxies("").client("10.0.0.1", b"203.0.113.5") == "10.0.0.1"


def test_the_last_address_that_is_no_trusted_proxy_is_the_client() -> None:
    proxies = TrustedProxies("10.0.0.1, 10.1.0.0/16")
    # A client's own header may say anything; the proxies append what they saw.
    assert proxies.client("10.0.0.1", b"198.51.100.7, 203.0.113.5, 10.1.2.3") == "203.0.113.5"
    assert proxies.client("10.0.0.1", b"10.1.0.9, 10.0.0.1") == "10.1.0.9"  # all trusted: the first


def test_everyone_trusted_takes_the_first_and_ports_and_brackets_are_dropped() -> None:
    assert TrustedProxies("*").client("192.0.2.1", b"203.0.113.5:4711, 10.0.0.1") == "203.0.113.5"
    proxies = TrustedProxies("::1")
    assert proxies.client("::1", b"[2001:db8::5]:4711") == "2001:db8::5"
    assert proxies.client("::1", b"2001:db8::6") == "2001:db8::6"
    assert proxies.client("::1", b" , ") == "::1"  # nothing in it: the peer


def test_a_name_that_is_no_address_is_trusted_as_written() -> None:
    proxies = TrustedProxies("unix-socket-proxy")
    assert proxies.trusts("unix-socket-proxy") and not proxies.trusts("other") and not proxies.trusts(None)
