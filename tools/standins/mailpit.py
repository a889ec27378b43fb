#!/usr/bin/python3
"""Stand-in for the Mailpit image's ``/mailpit``, for machines that cannot pull it.

SMTP on port 1025 and, on port 8025, the part of Mailpit's HTTP API that a program reading
the caught mail uses: ``GET /api/v1/messages`` (newest first), ``GET /api/v1/message/<ID>``,
``DELETE /api/v1/messages``, ``/readyz`` and ``/livez``. ``/mailpit readyz`` is the image's
health check. Mail is kept in memory, as Mailpit keeps it by default. Only the standard
library and Debian's python3-aiosmtpd: this runs in an image with no project code in it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SMTP_PORT = 1025
HTTP_PORT = 8025


class Messages:
    """The caught mail, in memory, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict] = []

    def add(self, raw: bytes, recipients: list[str]) -> None:
        """Keep one message in Mailpit's shapes (summary fields and full fields)."""
        message = message_from_bytes(raw, policy=policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        to = [{"Name": name, "Address": address}
              for name, address in getaddresses([str(message.get("To", ""))]) if address]
        sender = getaddresses([str(message.get("From", ""))])
        item = {
            "ID": uuid.uuid4().hex,
            "MessageID": str(message.get("Message-ID", "")),
            "From": {"Name": sender[0][0], "Address": sender[0][1]} if sender else {},
            "To": to or [{"Name": "", "Address": address} for address in recipients],
            "Subject": str(message.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
            "Text": text.get_content() if text else "",
            "HTML": html.get_content() if html else "",
            "Size": len(raw),
        }
        item["Snippet"] = item["Text"][:250]
        with self._lock:
            self._items.insert(0, item)

    def summaries(self) -> list[dict]:
        """Every message without its bodies, newest first."""
        with self._lock:
            return [{k: v for k, v in item.items() if k not in ("Text", "HTML")}
                    for item in self._items]

    def get(self, message_id: str) -> dict | None:
        """One message with its bodies."""
        with self._lock:
            return next((item for item in self._items if item["ID"] == message_id), None)

    def clear(self) -> None:
        """Forget every message."""
        with self._lock:
            self._items.clear()


def make_handler(messages: Messages) -> type[BaseHTTPRequestHandler]:
    """The HTTP request handler answering Mailpit's paths over ``messages``."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path in ("/readyz", "/livez"):
                self._send(200, b"ok")
            elif path == "/api/v1/messages":
                items = messages.summaries()
                self._send(200, {"total": len(items), "unread": len(items),
                                 "count": len(items), "start": 0, "messages": items})
            elif path.startswith("/api/v1/message/"):
                item = messages.get(path.rsplit("/", 1)[1])
                self._send(200, item) if item else self._send(404, {"error": "not found"})
            else:
                self._send(404, {"error": "not found"})

        def do_DELETE(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?", 1)[0] == "/api/v1/messages":
                messages.clear()
                self._send(200, b"ok")
            else:
                self._send(404, {"error": "not found"})

        def log_message(self, *args) -> None:
            pass

    return Handler


def serve() -> None:
    """SMTP and HTTP until the container stops."""
    from aiosmtpd.controller import Controller

    messages = Messages()

    class Store:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            messages.add(envelope.original_content or envelope.content,
                         list(envelope.rcpt_tos))
            return "250 Message accepted for delivery"

    # PID 1 in its container: without a handler SIGTERM would be ignored until the SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    controller = Controller(Store(), hostname="0.0.0.0", port=SMTP_PORT)
    controller.start()
    print(f"mailpit stand-in: SMTP on {SMTP_PORT}, HTTP on {HTTP_PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), make_handler(messages)).serve_forever()


def readyz() -> int:
    """0 when the HTTP side answers (the image's health check)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=3):
            return 0
    except OSError:
        return 1


if __name__ == "__main__":
    if sys.argv[1:] == ["readyz"]:
        sys.exit(readyz())
    serve()
