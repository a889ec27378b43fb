"""Builds bidding_service: ``create_app`` for the web process, ``build_parts`` for the worker."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from flask import Flask

from auction_common.auth import init_jwt
from auction_common.bus import create_bus
from auction_common.db import Database, create_db_engine
from auction_common.errors import register_error_handlers
from auction_common.events import EventSchemas
from auction_common.health import health_blueprint, instrument
from auction_common.runtime import ServiceParts, periodic

from .consumers import catalog_consumer, users_consumer
from .handlers import close_due_auctions, forget_old_idempotency_keys
from .models import metadata
from .routes import api, bp
from .settings import BiddingSettings, load

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: BiddingSettings) -> ServiceParts:
    """The database, consumers and jobs (the closer) of bidding_service."""
    engine = create_db_engine(settings.database_url, settings.db_pool_size, "bidding_service")
    schemas = EventSchemas(EVENT_SCHEMAS) if settings.validate_events else None
    db = Database(engine, metadata, "bidding_service", schemas)
    closer = periodic(settings.closer_interval_seconds, partial(close_due_auctions, db))
    return ServiceParts(name="bidding_service", db=db,
                        consumers=[catalog_consumer(db), users_consumer(db)],
                        jobs={"closer": closer, "idempotency_keys": periodic(
                            3600, partial(forget_old_idempotency_keys, db))})


def create_app(settings: BiddingSettings | None = None,
               parts: ServiceParts | None = None) -> Flask:
    """The bidding_service web app."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    app = Flask("bidding_service")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    app.extensions["settings"] = settings
    app.extensions["db"] = parts.db
    init_jwt(app, settings)
    register_error_handlers(app)
    checks = {"database": parts.db.ping}
    if settings.event_bus == "rabbitmq":
        checks["broker"] = create_bus(settings).ping
    app.register_blueprint(bp)
    app.register_blueprint(health_blueprint("bidding_service", checks, api.document,
                                            ("/api/bids",)))
    instrument(app, "bidding_service")
    return app
