"""The signed-in browser: token cookies, the user in the session, the request's API client.

The access and refresh tokens live in HttpOnly, SameSite=Lax cookies that page scripts cannot
read. The user's id and display name live in Flask's signed session for the navigation bar and
the "you are the highest bidder" check.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, redirect, request, session, url_for

from auction_common.problems import error_body

from .api_client import ApiClient, ApiErrorAnswer
from .security import forget_csrf_token

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
#: How long a browser stays signed in without coming back (the refresh token may expire sooner).
REMEMBER_FOR = timedelta(days=30)


@dataclass
class BrowserTokens:
    """One browser's token pair for the current request, and whether it changed."""

    access_token: str | None = None
    refresh_token: str | None = None
    user: dict | None = None
    changed: bool = False

    @property
    def signed_in(self) -> bool:
        """True when the browser holds a token that may still let it act as a user."""
        return bool(self.access_token or self.refresh_token)

    def replace(self, pair: dict) -> None:
        """Keep a new token pair (and its user) from a login or refresh answer."""
        self.access_token = pair.get("access_token")
        self.refresh_token = pair.get("refresh_token") or self.refresh_token
        if pair.get("user"):
            self.user = public_user(pair["user"])
        self.changed = True

    def clear(self) -> None:
        """Forget both tokens and the user."""
        self.access_token = self.refresh_token = self.user = None
        self.changed = True


def public_user(user: dict) -> dict:
    """What the pages need to know about the user: id, display name, role."""
    return {"id": str(user.get("id")), "display_name": user.get("display_name") or "",
            "role": user.get("role") or "user"}


@dataclass
class _Refresh:
    done: threading.Event = field(default_factory=threading.Event)
    pair: dict | None = None
    error: BaseException | None = None
    expires: float = 0.0


class RefreshCoordinator:
    """Lets concurrent requests of one browser share a single token refresh.

    Refresh tokens rotate and a token used twice revokes its whole family (theft detection), so
    two tabs refreshing at the same moment would sign the user out. Within this process, the
    first request refreshes and the others (same old refresh token, within ``grace_seconds``)
    get the same new pair.
    """

    def __init__(self, grace_seconds: float = 10.0, wait_seconds: float = 15.0):
        self._grace = grace_seconds
        self._wait = wait_seconds
        self._lock = threading.Lock()
        self._recent: dict[str, _Refresh] = {}

    def refresh(self, refresh_token: str, call: Callable[[str], dict]) -> dict:
        """``call(refresh_token)`` once per token; later callers share its answer."""
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        with self._lock:
            now = time.monotonic()
            stale = [k for k, v in self._recent.items() if v.done.is_set() and v.expires < now]
            for key_done in stale:
                del self._recent[key_done]
            entry = self._recent.get(key)
            owner = entry is None
            if owner:
                entry = self._recent[key] = _Refresh()
        if owner:
            try:
                entry.pair = call(refresh_token)
            except BaseException as exc:
                entry.error = exc
                with self._lock:
                    self._recent.pop(key, None)
                raise
            finally:
                entry.expires = time.monotonic() + self._grace
                entry.done.set()
            return entry.pair
        entry.done.wait(self._wait)
        if entry.error is not None:
            raise entry.error
        if entry.pair is None:
            return call(refresh_token)
        return entry.pair


def init_auth(app: Flask) -> None:
    """Read the token cookies before each request; write them back when they changed."""

    @app.before_request
    def _load_tokens():
        g.tokens = BrowserTokens(
            access_token=request.cookies.get(ACCESS_COOKIE) or None,
            refresh_token=request.cookies.get(REFRESH_COOKIE) or None,
        )

    @app.after_request
    def _store_tokens(response):
        tokens: BrowserTokens | None = g.get("tokens")
        if tokens is None or not tokens.changed:
            return response
        secure = current_app.extensions["frontend"].settings.cookie_secure
        for name, value in ((ACCESS_COOKIE, tokens.access_token),
                            (REFRESH_COOKIE, tokens.refresh_token)):
            if value:
                response.set_cookie(name, value, max_age=int(REMEMBER_FOR.total_seconds()),
                                    httponly=True, samesite="Lax", secure=secure, path="/")
            else:
                response.delete_cookie(name, httponly=True, samesite="Lax", secure=secure,
                                       path="/")
        before = (session.get("user") or {}).get("id")
        if tokens.user:
            session["user"] = tokens.user
            session.permanent = True
        elif not tokens.signed_in:
            session.pop("user", None)
        after = (session.get("user") or {}).get("id")
        if before != after or not tokens.signed_in:
            # Signed in, out, or as someone else: a CSRF token made before does not carry
            # over (one planted before the login is worthless after it).
            forget_csrf_token()
        return response


def api() -> ApiClient:
    """The API client of this request, acting as the signed-in user when there is one."""
    if "api" not in g:
        parts = current_app.extensions["frontend"]
        g.api = ApiClient(
            base_url=parts.settings.api_url,
            http=parts.http,
            tokens=g.tokens,
            timeout=parts.settings.api_timeout_seconds,
            request_id=request.headers.get("X-Request-Id"),
            coordinate_refresh=parts.refreshes.refresh,
            forwarded_for=forwarded_for(),
        )
    return g.api


def forwarded_for() -> str | None:
    """``X-Forwarded-For`` for the API: the chain this request came with, plus the address
    it came from (what a proxy does; the API believes only the hops of trusted proxies)."""
    hops = [request.headers.get("X-Forwarded-For", "").strip(), request.remote_addr or ""]
    return ", ".join(hop for hop in hops if hop) or None


def current_user() -> dict | None:
    """``{id, display_name}`` of the signed-in user, or None for a visitor."""
    tokens: BrowserTokens | None = g.get("tokens")
    if tokens is None or not tokens.signed_in:
        return None
    if tokens.user:
        return tokens.user
    if session.get("user"):
        return session["user"]
    try:
        tokens.user = public_user(api().me())
    except ApiErrorAnswer:
        return None
    tokens.changed = True
    return tokens.user


def wants_json() -> bool:
    """True when the caller is the page's script (it asks for JSON), not a form post."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target on this site only (``/path?query``), never another origin."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    # A backslash is a slash to some browsers; a control character (a line break above all)
    # cannot go into a Location header.
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return default
    return target


def return_path() -> str:
    """Where to come back after signing in: this page, or for a form post the page it was on."""
    if request.method == "GET":
        return safe_next(request.full_path.rstrip("?"))
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return "/"
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))


def login_redirect():
    """Send the visitor to the sign-in page (or a 401 JSON answer for the page's script)."""
    if wants_json():
        message = "Please sign in first."
        body = error_body("login_required", message)
        return jsonify({"ok": False, **body, "message": message}), 401
    return redirect(url_for("account.login", next=return_path()))


def login_required(view):
    """Views for signed-in users only: visitors are sent to sign in first."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not g.tokens.signed_in:
            return login_redirect()
        return view(*args, **kwargs)

    return wrapper
