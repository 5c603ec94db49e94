"""Who a purchase comes from, for the per-address rate limit: the peer of the connection, or, when the
peer is a proxy ``FLASHPORT_FORWARDED_ALLOW_IPS`` names (a load balancer in front of the API nodes), the
client its ``X-Forwarded-For`` names.

The purchases answered before FastAPI (the edge) do not pass through uvicorn's proxy-headers
middleware, which does this for every other request; without it every purchase behind HAProxy counted
against the balancer's one address, so the address bucket refused buyers who had never bought. The rule
is the middleware's: the proxies append to the header, so from its end the first address that is not a
trusted proxy is the client; when all are trusted, the first one. The setting takes addresses,
networks (``10.0.0.0/8``) and ``*``.
"""

from __future__ import annotations

import functools
import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, setting: str) -> None:
        entries = [entry.strip() for entry in setting.split(",") if entry.strip()]
        self.everyone = "*" in entries
        self._networks: list[Network] = []
        self._names: set[str] = set()  # what is no address (a unix socket's name): compared as written
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.add(entry)

    @property
    def any(self) -> bool:
        """Whether any proxy is trusted (the setting is not empty)."""
        return self.everyone or bool(self._networks or self._names)

    def trusts(self, host: str | None) -> bool:
        if self.everyone:
            return True
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self._names
        return any(address in network for network in self._networks)

    def client(self, peer: str | None, forwarded_for: bytes | None) -> str | None:
        """The client's address: ``peer`` unless it is a trusted proxy that says whom it forwards for."""
        if forwarded_for is None or not self.trusts(peer):
            return peer
        hosts = [_host(part) for part in forwarded_for.decode("latin-1").split(",")]
        hosts = [host for host in hosts if host]
        if not hosts:
            return peer
        if self.everyone:
            return hosts[0]
        for host in reversed(hosts):
            if not self.trusts(host):
                return host
        return hosts[0]


def _host(part: str) -> str:
    """An address out of one ``X-Forwarded-For`` entry, which may carry a port (``1.2.3.4:5678``,
    ``[::1]:5678``)."""
    part = part.strip()
    if part.startswith("["):
        return part[1:].partition("]")[0]
    if part.count(":") == 1:  # IPv4 with a port; an IPv6 address has several colons
        return part.partition(":")[0]
    return part


@functools.lru_cache(maxsize=8)
def trusted_proxies(setting: str) -> TrustedProxies:
    """One parse of the setting per process (each connection asks)."""
    return TrustedProxies(setting)
