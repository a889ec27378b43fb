"""Rate limits on the doors an attacker knocks on: register, log in, change or reset the
password.

Flask-Limiter counts in ``RATE_LIMIT_STORAGE_URL`` (Redis where several processes serve, so
that they share counters). Two kinds of limit:

- per client address, every request to register and to log in (``RATE_LIMIT_PER_IP``,
  generous: a whole office may share one address);
- failed attempts only: wrong passwords at login per account *and* client address
  (``RATE_LIMIT_FAILED_LOGINS``), and per client address whatever the account
  (``RATE_LIMIT_FAILED_LOGINS_PER_IP``, against one address trying many accounts); wrong
  current passwords at ``PATCH /api/users/me`` per account. Counting an account's failures per
  address means that strangers guessing a password slow themselves down, never the owner:
  from their own address, with the right password, the owner still gets in. The windows
  slide, so a slowed-down address gets its turn back by itself.

A refused request answers 429 with ``Retry-After`` and the platform's error body.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from ipaddress import ip_address

from flask import Flask, request
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from flask_limiter import Limiter, RateLimitExceeded

from auction_common.errors import error_response

from .domain import normalise_email
from .settings import UserSettings

log = logging.getLogger(__name__)

#: Seconds to connect to and hear from Redis before counting in memory instead.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def client_address(trusted_networks) -> str:
    """The client's address: the nearest one in ``X-Forwarded-For`` that is not one of our own
    proxies (``TRUSTED_PROXIES``); what a client writes there itself is never believed, since
    each of our proxies appends the address it saw."""
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    chain = [part for part in forwarded if part] + [request.remote_addr or ""]
    for address in reversed(chain):
        try:
            parsed = ip_address(address)
        except ValueError:
            return address[:100] or "unknown"
        if not any(parsed in network for network in trusted_networks):
            return str(parsed)
    return chain[0]


def login_account_key() -> str:
    """The account a login names (a digest of its normalised email, not the email itself)."""
    try:
        body = request.get_json(silent=True)
    except Exception:  # an oversized body: the view answers 413 for it
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip():
        return "account:none"
    return "account:" + hashlib.sha256(normalise_email(email).encode()).hexdigest()


def login_account_and_address_key(trusted_networks) -> str:
    """The account a login names, from the client's address: the owner's own address keeps
    its own count, however many wrong passwords others send for the account."""
    return f"{login_account_key()}|from:{client_address(trusted_networks)}"


def token_user_key() -> str:
    """The account of the request's access token (``anonymous`` without a valid one: the view
    then answers 401 before any password is checked)."""
    try:
        verify_jwt_in_request()
        return f"user:{get_jwt_identity()}"
    except Exception:
        return "anonymous"


def init_rate_limits(app: Flask, settings: UserSettings) -> Limiter:
    """Limit the app's ``users.register``, ``users.login`` and ``users.update_me`` views
    (call after registering the blueprint). Each app has its own limiter and storage."""
    networks = settings.trusted_proxy_networks()
    limiter = Limiter(
        key_func=lambda: client_address(networks),
        app=app,
        storage_uri=settings.rate_limit_storage_url,
        # A Redis that does not answer must not hold logins up (then: the fallback below).
        storage_options=(REDIS_TIMEOUTS if settings.rate_limit_storage_url.startswith("redis")
                         else {}),
        strategy="moving-window",
        key_prefix="user_service",
        enabled=settings.rate_limit_enabled,
        headers_enabled=False,
        # Redis unreachable: count in this process's memory meanwhile, never answer 500.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    per_ip = limiter.limit(settings.rate_limit_per_ip)
    failed_logins = limiter.limit(
        settings.rate_limit_failed_logins,
        key_func=lambda: login_account_and_address_key(networks),
        deduct_when=lambda response: response.status_code == 401,
    )
    failed_logins_per_ip = limiter.limit(
        settings.rate_limit_failed_logins_per_ip,
        key_func=lambda: "failures-from:" + client_address(networks),
        deduct_when=lambda response: response.status_code == 401,
    )
    failed_password_checks = limiter.limit(
        settings.rate_limit_failed_logins, key_func=token_user_key,
        deduct_when=lambda response: response.status_code == 403,
    )
    password_resets = limiter.limit(
        settings.rate_limit_password_resets, key_func=lambda: "reset-" + login_account_key())
    views = app.view_functions
    views["users.register"] = per_ip(views["users.register"])
    views["users.login"] = failed_logins(failed_logins_per_ip(per_ip(views["users.login"])))
    views["users.update_me"] = failed_password_checks(views["users.update_me"])
    views["users.request_password_reset"] = password_resets(
        per_ip(views["users.request_password_reset"]))
    views["users.confirm_password_reset"] = per_ip(views["users.confirm_password_reset"])

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded):
        seconds = retry_after_seconds(limiter)
        return error_response(
            429, "rate_limited", f"Too many attempts: try again in {seconds} seconds.",
            {"retry_after": seconds, "limit": str(exc.limit.limit)},
            headers={"Retry-After": str(seconds)},
        )

    return limiter


def retry_after_seconds(limiter: Limiter) -> int:
    """Whole seconds until the breached limit lets one more request through (at least 1)."""
    breached = limiter.current_limit
    try:
        reset_at = breached.window.reset_time if breached is not None else None
    except Exception:
        log.warning("rate limit storage did not answer; guessing Retry-After")
        reset_at = None
    if reset_at is None:
        return 60
    return max(1, math.ceil(reset_at - time.time()))
