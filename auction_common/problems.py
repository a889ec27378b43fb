"""The platform's error type, free of Flask so that domain layers can raise it."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """An error a client can act on: an HTTP status, a machine-readable code, a message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        #: Response headers that go with it (``Retry-After`` on a 503, say).
        self.headers = headers or {}
