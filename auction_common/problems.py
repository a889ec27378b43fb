"""The platform's error type and its body, free of Flask so that domain layers can raise it and
use cases that store an answer (idempotent POSTs) can build it."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, details: Any = None) -> dict:
    """The one error body of the platform: ``{"error": {"code", "message", "details"}}``.
    Every answer that refuses something is built here (HTTP errors, stored idempotent
    answers, the frontend's JSON routes), so that the shape cannot drift."""
    return {"error": {"code": code, "message": message, "details": details}}


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

    def body(self) -> dict:
        """This problem as the platform's error body."""
        return error_body(self.code, self.message, self.details)
