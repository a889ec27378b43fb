"""Builds user_service: ``create_app`` for the web process, ``build_parts`` for the worker."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from auction_common.auth import init_jwt
from auction_common.bus import create_bus
from auction_common.db import Database, create_db_engine
from auction_common.errors import register_error_handlers
from auction_common.events import EventSchemas
from auction_common.health import health_blueprint, instrument
from auction_common.runtime import ServiceParts

from .models import metadata
from .routes import api, bp
from .settings import UserSettings, load

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: UserSettings) -> ServiceParts:
    """The database and background work of user_service (it consumes nothing yet)."""
    engine = create_db_engine(settings.database_url, settings.db_pool_size, "user_service")
    schemas = EventSchemas(EVENT_SCHEMAS) if settings.validate_events else None
    return ServiceParts(name="user_service", db=Database(engine, metadata, "user_service", schemas))


def create_app(settings: UserSettings | None = None, parts: ServiceParts | None = None) -> Flask:
    """The user_service web app."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    app = Flask("user_service")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["settings"] = settings
    app.extensions["db"] = parts.db
    init_jwt(app, settings, private_key_pem=settings.private_key_pem())
    register_error_handlers(app)

    checks = {"database": parts.db.ping}
    if settings.event_bus == "rabbitmq":
        checks["broker"] = create_bus(settings).ping
    app.register_blueprint(bp)
    app.register_blueprint(
        health_blueprint("user_service", checks, api.document, ("/api/auth", "/api/users"))
    )
    instrument(app, "user_service")
    return app
