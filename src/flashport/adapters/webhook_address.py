"""Where a webhook may go (SSRF): a URL's host is resolved and every address it resolves to is checked
(:func:`flashport.domain.webhooks.address_refused`) when the endpoint is registered and again at each
delivery, and the delivery connects to the very address that was checked (a name that resolves
elsewhere a moment later, DNS rebinding, changes nothing). Redirects are never followed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flashport.domain.errors import FieldProblem, InvalidInput
from flashport.domain.webhooks import address_refused


class AddressRefused(Exception):
    """The URL's host resolves to an address webhooks may not reach, or does not resolve."""


@dataclass(frozen=True)
class Target:
    url: str  # what to connect to: the checked address in place of the host name
    host: str  # the Host header and the TLS server name
    address: str


async def resolve_checked(url: str, *, allow_private: bool) -> Target:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
        addresses = [str(literal)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise AddressRefused(f"{host} does not resolve: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    for address in addresses:  # every one: a name may hide a private address among public ones
        reason = address_refused(address, allow_private=allow_private)
        if reason:
            raise AddressRefused(f"{host}: {reason}")
    chosen = addresses[0]
    shown = f"[{chosen}]" if ":" in chosen else chosen
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(parts._replace(netloc=netloc).geturl(), host_header, chosen)


async def check_endpoint_address(url: str, *, allow_private: bool) -> None:
    """At registration: a URL that would be refused at delivery is refused now, with a clear error."""
    try:
        await resolve_checked(url, allow_private=allow_private)
    except AddressRefused as exc:
        raise InvalidInput(
            f"webhooks may not be sent there: {exc}",
            code="webhook_address_refused",
            details=[FieldProblem("url", str(exc))],
        ) from exc
