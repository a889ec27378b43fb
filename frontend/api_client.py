"""The platform's JSON API over HTTP, as seen by one signed-in (or anonymous) browser.

One helper per endpoint. Calls that need the user forward the access token as
``Authorization: Bearer``; when the API answers 401 ``token_expired`` the client refreshes the
token pair once (``POST /api/auth/refresh``) and retries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

#: Connect timeout (seconds); the read timeout comes from the settings.
CONNECT_TIMEOUT = 3.05


@dataclass(eq=False)
class ApiErrorAnswer(Exception):
    """An error answer of the API: ``{"error": {"code", "message", "details"}}``."""

    status: int
    code: str
    message: str
    details: Any = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    @property
    def field_errors(self) -> dict[str, str]:
        """Validation messages by field name (``details`` is a list of ``{field, message}``)."""
        errors: dict[str, str] = {}
        if isinstance(self.details, list):
            for item in self.details:
                if isinstance(item, dict) and item.get("field") and item.get("message"):
                    name = str(item["field"]).split(".")[-1]
                    errors.setdefault(name, str(item["message"]))
        return errors


class ApiUnavailable(ApiErrorAnswer):
    """The API could not be reached, timed out, or failed on its side (5xx)."""

    def __init__(self, message: str = "The auction service is unavailable right now."):
        super().__init__(503, "api_unavailable", message)


class TokenHolder(Protocol):
    """Where one browser's tokens live while a request is answered (see ``frontend.auth``)."""

    access_token: str | None
    refresh_token: str | None

    def replace(self, pair: dict) -> None:
        """Keep a new token pair (the body of a login or refresh answer)."""

    def clear(self) -> None:
        """Forget both tokens: the user is signed out."""


class RefreshFunction(Protocol):
    def __call__(self, refresh_token: str, call: Any) -> dict: ...


def _direct_refresh(refresh_token: str, call) -> dict:
    return call(refresh_token)


@dataclass
class ApiClient:
    """The API for one browser request: ``base_url`` is ``API_URL``; ``tokens`` may be empty."""

    base_url: str
    http: requests.Session
    tokens: TokenHolder | None = None
    timeout: float = 10.0
    request_id: str | None = None
    #: Wraps the refresh call (the app shares one refresh among concurrent requests).
    coordinate_refresh: RefreshFunction = field(default=_direct_refresh)
    #: The browser's ``X-Forwarded-For`` chain, its own address last: the API's per-address
    #: rate limits count the browser, not this frontend (with ``TRUSTED_PROXIES`` set there).
    forwarded_for: str | None = None

    # -- accounts -------------------------------------------------------------------------------

    def register(self, email: str, password: str, display_name: str) -> dict:
        """Create an account (201, the public user)."""
        body = {"email": email, "password": password, "display_name": display_name}
        return self._call("POST", "/api/auth/register", json=body)

    def request_password_reset(self, email: str) -> dict:
        """Ask for a password reset link by email (answers the same for any email)."""
        return self._call("POST", "/api/auth/password-reset", json={"email": email})

    def reset_password(self, token: str, new_password: str) -> dict:
        """Choose a new password with a reset link's token; every session ends."""
        return self._call("POST", "/api/auth/password-reset/confirm",
                          json={"token": token, "new_password": new_password})

    def login(self, email: str, password: str) -> dict:
        """Exchange credentials for a token pair and the user; keeps the pair in ``tokens``."""
        pair = self._call("POST", "/api/auth/login", json={"email": email, "password": password})
        if self.tokens is not None:
            self.tokens.replace(pair)
        return pair

    def logout(self) -> None:
        """Revoke the refresh token (its whole family) and forget both tokens."""
        if self.tokens is None:
            return
        refresh_token = self.tokens.refresh_token
        self.tokens.clear()
        if refresh_token:
            self._call("POST", "/api/auth/logout", json={"refresh_token": refresh_token})

    def me(self) -> dict:
        """The signed-in account ``{id, email, display_name, role, status}``."""
        return self._call("GET", "/api/users/me", auth="required")

    def update_me(self, **changes: str) -> dict:
        """Change ``display_name``, or the password (``new_password`` with
        ``current_password``; the API then signs out the user's other sessions)."""
        return self._call("PATCH", "/api/users/me", json=changes, auth="required")

    def user_profile(self, user_id: str) -> dict:
        """A public profile ``{id, display_name, member_since}`` (administrators also get
        ``email``, ``role`` and ``status``)."""
        return self._call("GET", f"/api/users/{_segment(user_id)}", auth="optional")

    def set_user_suspended(self, user_id: str, suspended: bool) -> dict:
        """Suspend or restore an account (administrators only)."""
        action = "suspend" if suspended else "unsuspend"
        return self._call("POST", f"/api/users/{_segment(user_id)}/{action}", auth="required")

    # -- catalog --------------------------------------------------------------------------------

    def search_auctions(self, **params: str | int | None) -> dict:
        """A page of listings: ``{"items": [...], "next_cursor": ...}``. ``params`` are the
        search's query (``q``, ``category``, ``status``, ``sort``, ``cursor``, ``limit``...);
        empty ones are left out."""
        query = {key: value for key, value in params.items() if value not in (None, "")}
        return self._call("GET", "/api/auctions", params=query, auth="optional")

    def auction_categories(self) -> list[dict]:
        """The categories a listing can have: ``[{"id", "name"}, ...]``."""
        return self._call("GET", "/api/auctions/categories").get("items", [])

    def auction_conditions(self) -> list[dict]:
        """The conditions an item can be in: ``[{"id", "name"}, ...]``."""
        return self._call("GET", "/api/auctions/conditions").get("items", [])

    def create_auction(self, listing: dict, idempotency_key: str | None = None) -> dict:
        """List an item (201 with its ``id``); ``listing`` is the API's body. With a key, the
        same request sent again answers the same listing."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/api/auctions", json=listing, headers=headers,
                          auth="required")

    def get_auction(self, auction_id: str) -> dict:
        """One listing of the catalog (the seller's view, with the reserve, for the seller)."""
        return self._call("GET", f"/api/auctions/{_segment(auction_id)}", auth="optional")

    def update_auction(self, auction_id: str, changes: dict) -> dict:
        """Edit a listing: any field before the first bid, then only ``append_description``."""
        return self._call("PATCH", f"/api/auctions/{_segment(auction_id)}", json=changes,
                          auth="required")

    def cancel_auction(self, auction_id: str) -> dict:
        """Withdraw a listing that has no bid yet."""
        return self._call("POST", f"/api/auctions/{_segment(auction_id)}/cancel",
                          auth="required")

    def relist_auction(self, auction_id: str, changes: dict,
                       idempotency_key: str | None = None) -> dict:
        """List an unsold or withdrawn item again (its photos copied), ``changes`` applied;
        201 with the new listing."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", f"/api/auctions/{_segment(auction_id)}/relist", json=changes,
                          headers=headers, auth="required")

    def add_photo(self, auction_id: str, filename: str, stream: Any, mimetype: str) -> dict:
        """Upload one photo (multipart field ``file``); 201 with its URLs."""
        return self._call("POST", f"/api/auctions/{_segment(auction_id)}/images",
                          files={"file": (filename, stream, mimetype)}, auth="required")

    def remove_photo(self, auction_id: str, image_id: str) -> None:
        """Delete one photo of a listing."""
        self._call("DELETE",
                   f"/api/auctions/{_segment(auction_id)}/images/{_segment(image_id)}",
                   auth="required")

    def order_photos(self, auction_id: str, image_ids: list[str]) -> dict:
        """Put a listing's photos in this order (every photo once): ``{"items": [...]}``."""
        return self._call("PUT", f"/api/auctions/{_segment(auction_id)}/images/order",
                          json={"image_ids": image_ids}, auth="required")

    def my_listings(self, cursor: str | None = None, status: str | None = None) -> dict:
        """The signed-in seller's listings (with reserve, bids and watchers), a page."""
        params = {key: value for key, value in (("cursor", cursor), ("status", status)) if value}
        return self._call("GET", "/api/auctions/mine", params=params, auth="required")

    def set_watching(self, auction_id: str, watching: bool) -> dict:
        """Watch (or stop watching) a listing: ``{auction_id, watching}``."""
        return self._call("PUT" if watching else "DELETE",
                          f"/api/auctions/{_segment(auction_id)}/watch", auth="required")

    def watchlist(self, cursor: str | None = None) -> dict:
        """The signed-in user's watchlist, most recently watched first, a page."""
        params = {"cursor": cursor} if cursor else None
        return self._call("GET", "/api/auctions/watching", params=params, auth="required")

    # -- bidding --------------------------------------------------------------------------------

    def auction_state(self, auction_id: str) -> dict:
        """The live state of an auction (price, leader, minimum next bid, reserve, Buy It Now,
        outcome, end, ``seq``)."""
        return self._call("GET", f"/api/bids/auctions/{_segment(auction_id)}", auth="optional")

    def place_bid(self, auction_id: str, amount: int, idempotency_key: str | None = None) -> dict:
        """Bid ``amount`` minor units; a retry with the same key returns the first answer."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call(
            "POST", "/api/bids", json={"auction_id": auction_id, "amount": amount},
            headers=headers, auth="required",
        )

    def buy_now(self, auction_id: str, idempotency_key: str | None = None) -> dict:
        """Buy at the Buy-It-Now price: ``{status: "won", price, ...}``; the auction ends."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", f"/api/bids/auctions/{_segment(auction_id)}/buy-now",
                          headers=headers, auth="required")

    def bid_history(self, auction_id: str, after_seq: int = 0, limit: int | None = None) -> dict:
        """Public history lines after ``after_seq``, oldest first:
        ``{items: [{bid_id, seq, bidder, current_price, placed_at, auto, yours?}], next_cursor,
        seq}`` (``yours`` when the user is signed in)."""
        params = {"after_seq": after_seq, **({"limit": limit} if limit else {})}
        return self._call("GET", f"/api/bids/auctions/{_segment(auction_id)}/history",
                          params=params, auth="optional")

    def my_bids(self, cursor: str | None = None, auction_id: str | None = None) -> dict:
        """The auctions the user bid on (or only ``auction_id``), newest bid first, with
        leading/outbid/won/lost and their maximum (``your_max``)."""
        params = {key: value for key, value in (("cursor", cursor), ("auction_id", auction_id))
                  if value} or None
        return self._call("GET", "/api/bids/mine", params=params, auth="required")

    # -- notifications --------------------------------------------------------------------------

    def notifications(self) -> list[dict]:
        """The user's in-app notifications, newest first."""
        return self._call("GET", "/api/notifications", auth="required").get("items", [])

    def unread_count(self) -> int:
        """How many of the user's notifications are unread."""
        return int(self._call("GET", "/api/notifications/unread-count",
                              auth="required").get("count") or 0)

    def mark_notifications_read(self, ids: list[str]) -> int:
        """Mark these notifications read; returns how many are still unread."""
        return int(self._call("POST", "/api/notifications/read-all", json={"ids": ids},
                              auth="required").get("count") or 0)

    def sale_contact(self, auction_id: str) -> dict:
        """For a sold auction's buyer or seller: the other party's name and email, the price,
        the next step (404 ``sale_not_found`` for anyone else, or before it is known)."""
        return self._call("GET", f"/api/notifications/sales/{_segment(auction_id)}",
                          auth="required")

    def unsubscribe_preview(self, token: str) -> dict:
        """What an email's unsubscribe token turns off: ``{kind, description, email}``."""
        return self._call("GET", "/api/notifications/unsubscribe", params={"token": token})

    def unsubscribe(self, token: str) -> dict:
        """Turn off the kind of email ``token`` names (no sign-in needed)."""
        return self._call("POST", "/api/notifications/unsubscribe", params={"token": token})

    def email_preferences(self) -> dict[str, bool]:
        """Kind of notification -> whether it also comes by email."""
        return self._call("GET", "/api/notifications/preferences", auth="required")["email"]

    def set_email_preferences(self, choices: dict[str, bool]) -> dict[str, bool]:
        """Say which kinds come by email; returns every kind's choice."""
        return self._call("PUT", "/api/notifications/preferences", json={"email": choices},
                          auth="required")["email"]

    # -- plumbing -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
              headers: dict | None = None, files: dict | None = None,
              auth: str = "none") -> Any:
        """Send, refreshing the token once on ``token_expired``; the decoded body or ApiErrorAnswer.

        ``auth`` is ``"none"``, ``"optional"`` (forward the token when there is one) or
        ``"required"`` (401 ``login_required`` without tokens, before any call).
        """
        tokens = self.tokens if auth != "none" else None
        if tokens is not None and not tokens.access_token and tokens.refresh_token:
            self._refresh()
        if auth == "required" and (tokens is None or not tokens.access_token):
            raise ApiErrorAnswer(401, "login_required", "Please sign in first.")
        bearer = tokens.access_token if tokens is not None else None
        response = self._send(method, path, json, params, headers, files, bearer)
        if bearer and _is_expired_token(response) and tokens.refresh_token:
            if self._refresh():
                response = self._send(method, path, json, params, headers, files,
                                      tokens.access_token)
            elif auth == "optional":
                response = self._send(method, path, json, params, headers, files, None)
        elif bearer and response.status_code == 401 and auth == "optional":
            # A token the API no longer accepts (revoked, unknown user): carry on as a visitor.
            tokens.clear()
            response = self._send(method, path, json, params, headers, files, None)
        return _decode(response)

    def _refresh(self) -> bool:
        """Rotate the token pair; False (and no tokens) when the refresh token is refused."""
        refresh_token = self.tokens.refresh_token

        def call(token: str) -> dict:
            answer = self._send("POST", "/api/auth/refresh", {"refresh_token": token}, None,
                                None, None, None)
            return _decode(answer)

        try:
            pair = self.coordinate_refresh(refresh_token, call)
        except ApiErrorAnswer as exc:
            if exc.status in (400, 401, 403, 422):
                self.tokens.clear()
                return False
            raise
        self.tokens.replace(pair)
        return True

    def _send(self, method: str, path: str, json: Any, params: dict | None,
              headers: dict | None, files: dict | None,
              bearer: str | None) -> requests.Response:
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if bearer:
            sent_headers["Authorization"] = f"Bearer {bearer}"
        if self.request_id:
            sent_headers["X-Request-Id"] = self.request_id
        if self.forwarded_for:
            sent_headers["X-Forwarded-For"] = self.forwarded_for
        for _name, stream, _mimetype in (files or {}).values():
            stream.seek(0)  # a retry after a token refresh sends the whole file again
        try:
            return self.http.request(
                method, self.base_url + path, json=json, params=params, headers=sent_headers,
                files=files, timeout=(CONNECT_TIMEOUT, self.timeout), allow_redirects=False,
            )
        except requests.RequestException:
            raise ApiUnavailable() from None


def _segment(value: str) -> str:
    """An id as one safe path segment (ids are UUIDs; anything else cannot escape the path)."""
    return requests.utils.quote(str(value), safe="")


def _is_expired_token(response: requests.Response) -> bool:
    if response.status_code != 401:
        return False
    try:
        return response.json()["error"]["code"] == "token_expired"
    except (ValueError, KeyError, TypeError):
        return False


def _decode(response: requests.Response) -> Any:
    """The JSON body of a 2xx answer (``{}`` for 204), else the matching :class:`ApiErrorAnswer`."""
    if 200 <= response.status_code < 300:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ApiUnavailable("The auction service sent an unreadable answer.") from None
    if response.status_code >= 500:
        raise ApiUnavailable()
    try:
        error = response.json()["error"]
        return_error = ApiErrorAnswer(
            response.status_code, str(error.get("code") or "error"),
            str(error.get("message") or "The request was refused."), error.get("details"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return_error = ApiErrorAnswer(response.status_code, "error", "The request was refused.")
    raise return_error
