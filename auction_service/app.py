"""Builds auction_service: ``create_app`` for the web process, ``build_parts`` for the worker."""

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

from .consumers import read_model_consumer
from .models import metadata
from .routes import api, bp, media
from .settings import AuctionSettings, load

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: AuctionSettings) -> ServiceParts:
    """The database, consumers and jobs of auction_service."""
    engine = create_db_engine(settings.database_url, settings.db_pool_size, "auction_service")
    schemas = EventSchemas(EVENT_SCHEMAS) if settings.validate_events else None
    db = Database(engine, metadata, "auction_service", schemas)
    return ServiceParts(name="auction_service", db=db, consumers=[read_model_consumer(db)])


def create_app(settings: AuctionSettings | None = None,
               parts: ServiceParts | None = None) -> Flask:
    """The auction_service web app."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    app = Flask("auction_service")
    # JSON bodies stay small; the photo upload route raises its own request's limit.
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    app.extensions["settings"] = settings
    app.extensions["db"] = parts.db
    init_jwt(app, settings)
    register_error_handlers(app)
    checks = {"database": parts.db.ping}
    if settings.event_bus == "rabbitmq":
        checks["broker"] = create_bus(settings).ping
    app.register_blueprint(bp)
    app.register_blueprint(media)
    app.register_blueprint(health_blueprint("auction_service", checks, api.document,
                                            ("/api/auctions",)))
    instrument(app, "auction_service")
    return app
