"""Builds notification_service: ``create_app`` (web) and ``build_parts`` (worker)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from flask import Flask

from auction_common.runtime import ServiceParts, periodic
from auction_common.suspension import (
    account_status_consumer,
    refuse_suspended_accounts,
    status_lookup,
)
from auction_common.webapp import service_app, service_database

from .consumers import notification_consumer
from .delivery import deliver_pending_emails
from .models import account_statuses, metadata
from .password_reset import password_reset_consumer
from .routes import api, bp
from .settings import NotificationSettings, load
from .watches import remind_watchers

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: NotificationSettings) -> ServiceParts:
    """The database, consumers and jobs (email delivery) of notification_service."""
    db = service_database(settings, metadata, "notification_service", EVENT_SCHEMAS)
    # Emails the SMTP server accepted whose recording failed: kept across rounds, never resent.
    accepted_unrecorded: set = set()
    sender = periodic(settings.delivery_interval_seconds,
                      partial(deliver_pending_emails, db, settings,
                              accepted=accepted_unrecorded))
    reminders = periodic(settings.watch_reminder_interval_seconds,
                         partial(remind_watchers, db, settings))
    return ServiceParts(
        name="notification_service", db=db,
        consumers=[notification_consumer(db, settings.public_url,
                                         settings.outbid_quiet_seconds),
                   account_status_consumer(db, "notification_service", account_statuses),
                   password_reset_consumer(db, settings.public_url)],
        jobs={"email": sender, "watch_reminders": reminders},
    )


def create_app(settings: NotificationSettings | None = None,
               parts: ServiceParts | None = None) -> Flask:
    """The notification_service web app."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    app = service_app("notification_service", settings, parts, [bp],
                      api, ("/api/notifications",), max_body_bytes=16 * 1024)
    refuse_suspended_accounts(app, status_lookup(
        parts.db, account_statuses.c.user_id, account_statuses.c.status))
    return app
