"""The wiring every service's web app shares: one place instead of four copies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import wraps
from pathlib import Path

from flask import Blueprint, Flask, request
from sqlalchemy import MetaData

from .api import OpenApi
from .auth import init_jwt
from .bus import create_bus
from .db import Database, create_db_engine, retry_when_unavailable
from .errors import register_error_handlers
from .events import EventSchemas
from .health import health_blueprint, instrument
from .runtime import ServiceParts


def service_database(settings, metadata: MetaData, name: str, event_schemas: Path) -> Database:
    """A service's database: its engine, tables and (when ``VALIDATE_EVENTS``) event schemas."""
    engine = create_db_engine(settings.database_url, settings.db_pool_size, name)
    schemas = EventSchemas(event_schemas) if settings.validate_events else None
    return Database(engine, metadata, name, schemas)


def service_app(
    name: str,
    settings,
    parts: ServiceParts,
    blueprints: Iterable[Blueprint],
    openapi: OpenApi,
    prefixes: tuple[str, ...],
    max_body_bytes: int,
    private_key_pem: str | None = None,
    access_token_lifetime: timedelta = timedelta(minutes=15),
) -> Flask:
    """A service's Flask app: settings and database in ``app.extensions``, JWT verification
    (and signing, given the private key), the error body, the blueprints, health, readiness
    and the OpenAPI document at the root and under each prefix, metrics at the root, and the
    headers keeping answers unsniffed and private ones uncached."""
    app = Flask(name)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.extensions["settings"] = settings
    app.extensions["db"] = parts.db
    init_jwt(app, settings, private_key_pem=private_key_pem,
             access_token_lifetime=access_token_lifetime)
    register_error_handlers(app)
    checks = {"database": parts.db.ping}
    if settings.event_bus == "rabbitmq":
        checks["broker"] = create_bus(settings).ping
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_blueprint(health_blueprint(name, checks, openapi.document, prefixes))
    retry_reads_when_unavailable(app)
    instrument(app, name)
    app.after_request(_private_answers_are_not_stored)
    return app


def _private_answers_are_not_stored(response):
    """No answer is sniffed into another type; an answer to a signed-in request (the account,
    notifications, one's bids) is kept by no cache, shared or the browser's."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.headers.get("Authorization"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def retry_reads_when_unavailable(app: Flask) -> None:
    """Make every GET (and HEAD) that meets a dropped connection or a restarting database run
    again on a fresh connection for a moment, so that a PostgreSQL restart is invisible to
    readers; what still fails answers 503 with Retry-After (see ``register_error_handlers``).
    Writes are not repeated here: a client repeats them, with its Idempotency-Key."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint == "static":
            continue
        app.view_functions[endpoint] = _retrying_reads(view)


def _retrying_reads(view):
    @wraps(view)
    def run(*args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return view(*args, **kwargs)
        return retry_when_unavailable(lambda: view(*args, **kwargs))

    return run
