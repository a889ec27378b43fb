"""CSRF protection of every state-changing request, and the security headers of every answer.

The CSRF token is random per session and per login (a new one at every sign-in and sign-out),
kept in Flask's signed session cookie, rendered into each form (``csrf_token``) and into a
``<meta name="csrf-token">`` for the page's script, which sends it as the ``X-CSRF-Token``
header.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

from flask import Flask, current_app, request, session
from werkzeug.exceptions import Forbidden

CSRF_SESSION_KEY = "csrf_token"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfRefused(Forbidden):
    """A state-changing request without the session's CSRF token."""

    error_code = "csrf_failed"

    description = (
        "This form could not be accepted because it did not carry a valid security token. "
        "It may have expired, or it was not sent from this site. Go back, reload the page and "
        "try again."
    )


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def forget_csrf_token() -> None:
    """Drop the session's CSRF token (the next page makes a new one): at every sign-in and
    sign-out, so that a token is good for one login only."""
    session.pop(CSRF_SESSION_KEY, None)


def check_csrf() -> None:
    """Refuse (403) a state-changing request whose token does not match the session's."""
    if request.method not in _UNSAFE_METHODS:
        return
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FORM_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        raise CsrfRefused()


def content_security_policy() -> str:
    """Scripts, styles and connections from this origin only (and its WebSocket)."""
    host = request.host
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",  # blob: the Sell form's previews of chosen photos
        f"connect-src 'self' ws://{host} wss://{host}",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ))


def accepts_uploads(max_bytes: int) -> Callable:
    """Marks a view that takes file uploads of up to ``max_bytes`` per request (the app's own
    limit stays small for every other form)."""

    def mark(view):
        view.upload_limit = max_bytes
        return view

    return mark


def raise_upload_limit() -> None:
    """Let an upload view's request body through (before anything reads the form)."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "upload_limit", None)
    if limit:
        request.max_content_length = limit


def init_security(app: Flask) -> None:
    """Check CSRF before each request; add security headers to each answer."""
    app.before_request(raise_upload_limit)  # first: checking CSRF reads the form
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html" or response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
