"""One TLS set-up per process for every outgoing HTTP client.

httpx builds an SSL context for each client it makes, loading the whole CA bundle (about 100 ms on this
machine, more under load), even for a client that only ever speaks plain HTTP to a sandbox. A context is
meant to be shared, so the clients of the adapters and the sandboxes take this one (``verify=tls()``);
it is what httpx would have built for each of them (the CA bundle, or ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()
