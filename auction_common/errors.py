"""Errors as HTTP answers: every error a Flask app meets becomes the platform's one error body
(:func:`.problems.error_body`)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from .db import is_unavailable
from .problems import Problem, error_body

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: Any = None, headers=None):
    """A Flask response carrying the platform's error body."""
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def unavailable_response(message: str, retry_after: int = 1):
    """503 ``service_unavailable`` (as the gateway says when a service is unreachable) with
    ``Retry-After``: a dependency is down; the same request may succeed in ``retry_after``
    seconds (send a POST again with the same Idempotency-Key)."""
    return error_response(503, "service_unavailable", message, None,
                          {"Retry-After": str(retry_after)})


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def register_error_handlers(app: Flask) -> None:
    """Map every error (ours, HTTP ones, and unexpected ones) to the error body."""

    @app.errorhandler(Problem)
    def _api_error(exc: Problem):
        return error_response(exc.status, exc.code, exc.message, exc.details,
                              getattr(exc, "headers", None))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        code = _HTTP_CODES.get(status, "http_error")
        return error_response(status, code, exc.description or exc.name, None, headers)

    @app.errorhandler(sa_exc.SQLAlchemyError)
    def _database_error(exc: sa_exc.SQLAlchemyError):
        if not is_unavailable(exc):
            return _unexpected(exc)
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return unavailable_response("The database is unavailable for a moment; try again.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
