"""A partner's webhook receiver for Flashport, standing alone: Python's standard library plus the
``standardwebhooks`` library (``pip install standardwebhooks``). Copy it and put your own handling in
``handle``.

It does the three things every receiver must do:

1. Verify the signature (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) with the endpoint's
   ``whsec_`` secret before trusting anything; the library also refuses a timestamp more than five
   minutes off, so an old request replayed is refused. During a secret rotation a delivery carries a
   signature for each secret, so this receiver keeps working with either.
2. Drop repeats by ``webhook-id``: Flashport delivers at least once, and a retry carries the same id.
   The ids seen are kept in a small SQLite file, so a restart does not forget them.
3. Answer 2xx fast. Anything else (or no answer within 10 s) is retried later: 5 s, 5 min, 30 min, 2 h,
   5 h, 10 h, 10 h. Answer 410 only to say the endpoint is gone for good: it disables it.

A body is one event (``{"type": "order.created", "timestamp": ..., "data": {event}}``) or, when the
partner is far behind, several (``{"type": "batch", "data": {"events": [...]}}``). Each event has an
``id`` (``evt_...``, the same as in the pull feed), a ``subject`` and a ``subject_seq`` (1, 2, 3... per
subject) to put a subject's events in order.

    WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py --port 8080 --events events.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

MAX_BODY = 10 * 1024 * 1024


class Seen:
    """The webhook ids already handled, in SQLite (one writer at a time)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (webhook_id TEXT PRIMARY KEY)")
        self._lock = threading.Lock()

    def first_time(self, webhook_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (webhook_id,))
            return cursor.rowcount == 1


def events_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return body["data"]["events"] if body["type"] == "batch" else [body["data"]]


def make_handler(webhook: Webhook, seen: Seen, out: Path) -> type[BaseHTTPRequestHandler]:
    write = threading.Lock()

    def handle(event: dict[str, Any]) -> None:
        """Your business goes here; this one appends each event to a JSON-lines file."""
        with write, out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                return self._answer(413)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = webhook.verify(body, headers)
            except WebhookVerificationError:
                return self._answer(400)
            # Marked before handling: a crash in between loses the event to this receiver, so a real
            # one marks in the same transaction as its own writes (here, the file is the store).
            if seen.first_time(headers["webhook-id"]):
                for event in events_of(payload):
                    handle(event)
            return self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write("webhook-receiver: " + format % args + "\n")

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A Flashport webhook receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--events", type=Path, default=Path("events.jsonl"), help="where events go")
    parser.add_argument("--seen", type=Path, default=Path("webhook-ids.sqlite3"), help="ids handled")
    args = parser.parse_args(argv)
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        raise SystemExit("set WEBHOOK_SECRET to the endpoint's whsec_ secret")
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(Webhook(secret), Seen(args.seen), args.events)
    )
    print(f"listening on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
