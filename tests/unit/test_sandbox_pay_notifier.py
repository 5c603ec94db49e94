"""The sandbox payment company's notifier sends a notification again at once, on a fresh connection, when
the connection it went out on was closed under it. Seen in bench-pipeline: a kept-alive connection the
platform had just closed failed a notification, which then waited minutes for its next scheduled try."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from flashport.sandbox_pay.notifier import NotificationSender


async def test_a_notification_cut_off_with_its_connection_is_sent_again_at_once() -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(
                b":"
            )[1]
        )
        await reader.readexactly(length)
        if connections == 1:  # the first connection dies without an answer, as a closed keep-alive does
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsuccess")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    notifier = NotificationSender(queue=None, schedule=[60.0], timeout_seconds=5.0)  # type: ignore[arg-type]
    delivery: Any = SimpleNamespace(notify_id="n-1", url=f"http://127.0.0.1:{port}/notify", params={"a": "1"})
    try:
        status, body = await notifier._post(delivery)
    finally:
        await notifier._client.aclose()
        server.close()
        await server.wait_closed()
    assert (status, body) == (200, "success")
    assert connections == 2
