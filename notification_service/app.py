"""Builds notification_service: ``create_app`` (web) and ``build_parts`` (worker)."""

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

from .consumers import notification_consumer
from .delivery import deliver_pending_emails
from .models import metadata
from .routes import api, bp
from .settings import NotificationSettings, load
from .watches import remind_watchers

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: NotificationSettings) -> ServiceParts:
    """The database, consumers and jobs (email delivery) of notification_service."""
    engine = create_db_engine(settings.database_url, settings.db_pool_size,
                              "notification_service")
    schemas = EventSchemas(EVENT_SCHEMAS) if settings.validate_events else None
    db = Database(engine, metadata, "notification_service", schemas)
    sender = periodic(settings.delivery_interval_seconds,
                      partial(deliver_pending_emails, db, settings))
    reminders = periodic(settings.watch_reminder_interval_seconds,
                         partial(remind_watchers, db, settings))
    return ServiceParts(
        name="notification_service", db=db,
        consumers=[notification_consumer(db, settings.public_url,
                                         settings.outbid_quiet_seconds)],
        jobs={"email": sender, "watch_reminders": reminders},
    )


def create_app(settings: NotificationSettings | None = None,
               parts: ServiceParts | None = None) -> Flask:
    """The notification_service web app."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    app = Flask("notification_service")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    app.extensions["settings"] = settings
    app.extensions["db"] = parts.db
    init_jwt(app, settings)
    register_error_handlers(app)
    checks = {"database": parts.db.ping}
    if settings.event_bus == "rabbitmq":
        checks["broker"] = create_bus(settings).ping
    app.register_blueprint(bp)
    app.register_blueprint(health_blueprint("notification_service", checks, api.document,
                                            ("/api/notifications",)))
    instrument(app, "notification_service")
    return app
