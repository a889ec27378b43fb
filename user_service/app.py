"""Builds user_service: ``create_app`` for the web process, ``build_parts`` for the worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask

from auction_common.auth import init_jwt
from auction_common.bus import create_bus
from auction_common.db import Database, create_db_engine
from auction_common.errors import register_error_handlers
from auction_common.events import EventSchemas
from auction_common.health import health_blueprint, instrument
from auction_common.keys import key_id, public_key_pem
from auction_common.runtime import ServiceParts

from .models import metadata
from .passwords import PasswordHashing
from .ratelimit import init_rate_limits
from .routes import api, bp
from .settings import UserSettings, load

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: UserSettings) -> ServiceParts:
    """The database and background work of user_service (it consumes nothing yet)."""
    engine = create_db_engine(settings.database_url, settings.db_pool_size, "user_service")
    schemas = EventSchemas(EVENT_SCHEMAS) if settings.validate_events else None
    return ServiceParts(name="user_service", db=Database(engine, metadata, "user_service", schemas))


def password_hashing(settings: UserSettings) -> PasswordHashing:
    """argon2id with the configured cost (``ARGON2_*``)."""
    return PasswordHashing(settings.argon2_time_cost, settings.argon2_memory_cost,
                           settings.argon2_parallelism)


def create_app(settings: UserSettings | None = None, parts: ServiceParts | None = None) -> Flask:
    """The user_service web app."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    app = Flask("user_service")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["settings"] = settings
    app.extensions["db"] = parts.db
    app.extensions["passwords"] = password_hashing(settings)
    private_key = settings.private_key_pem()
    init_jwt(app, settings, private_key_pem=private_key,
             access_token_lifetime=timedelta(seconds=settings.access_token_ttl_seconds))
    app.extensions["jwt_signing_kid"] = key_id(public_key_pem(private_key))
    register_error_handlers(app)

    checks = {"database": parts.db.ping}
    if settings.event_bus == "rabbitmq":
        checks["broker"] = create_bus(settings).ping
    app.register_blueprint(bp)
    init_rate_limits(app, settings)
    app.register_blueprint(
        health_blueprint("user_service", checks, api.document, ("/api/auth", "/api/users"))
    )
    instrument(app, "user_service")
    return app
