"""Builds user_service: ``create_app`` for the web process, ``build_parts`` for the worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask

from auction_common.keys import key_id, public_key_pem
from auction_common.runtime import ServiceParts
from auction_common.suspension import refuse_suspended_accounts, status_lookup
from auction_common.webapp import service_app, service_database

from .models import User, metadata
from .passwords import PasswordHashing
from .ratelimit import init_rate_limits
from .routes import api, bp
from .settings import UserSettings, load

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: UserSettings) -> ServiceParts:
    """The database and background work of user_service (it consumes nothing yet)."""
    return ServiceParts(name="user_service",
                        db=service_database(settings, metadata, "user_service", EVENT_SCHEMAS))


def password_hashing(settings: UserSettings) -> PasswordHashing:
    """argon2id with the configured cost (``ARGON2_*``)."""
    return PasswordHashing(settings.argon2_time_cost, settings.argon2_memory_cost,
                           settings.argon2_parallelism)


def create_app(settings: UserSettings | None = None, parts: ServiceParts | None = None) -> Flask:
    """The user_service web app."""
    settings = settings or load()
    private_key = settings.private_key_pem()
    app = service_app(
        "user_service", settings, parts or build_parts(settings), [bp], api,
        ("/api/auth", "/api/users"), max_body_bytes=64 * 1024, private_key_pem=private_key,
        access_token_lifetime=timedelta(seconds=settings.access_token_ttl_seconds))
    app.extensions["passwords"] = password_hashing(settings)
    app.extensions["jwt_signing_kid"] = key_id(public_key_pem(private_key))
    init_rate_limits(app, settings)
    # The owner of the accounts reads the truth on every request (no replica, no delay).
    refuse_suspended_accounts(app, status_lookup(app.extensions["db"], User.id, User.status,
                                                 cache_seconds=0))
    return app
