"""Builds bidding_service: ``create_app`` for the web process, ``build_parts`` for the worker."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from flask import Flask

from auction_common import idempotency
from auction_common.runtime import ServiceParts, periodic
from auction_common.suspension import refuse_suspended_accounts, status_lookup
from auction_common.webapp import service_app, service_database

from .batching import KeyedBatcher
from .consumers import catalog_consumer, users_consumer
from .handlers import close_due_auctions, decide_bids
from .models import Bidder, metadata
from .routes import api, bp
from .settings import BiddingSettings, load

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: BiddingSettings) -> ServiceParts:
    """The database, consumers and jobs (the closer) of bidding_service."""
    db = service_database(settings, metadata, "bidding_service", EVENT_SCHEMAS)
    closer = periodic(settings.closer_interval_seconds, partial(close_due_auctions, db))
    return ServiceParts(name="bidding_service", db=db,
                        consumers=[catalog_consumer(db), users_consumer(db)],
                        jobs={"closer": closer, "idempotency_keys": periodic(
                            3600, partial(idempotency.forget_old_answers, db))})


def create_app(settings: BiddingSettings | None = None,
               parts: ServiceParts | None = None) -> Flask:
    """The bidding_service web app."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    app = service_app("bidding_service", settings, parts, [bp], api, ("/api/bids",),
                      max_body_bytes=16 * 1024)
    # Its replica of the users (consumers.py) says who is suspended.
    refuse_suspended_accounts(app, status_lookup(parts.db, Bidder.user_id, Bidder.status))
    # Bids arriving together share one transaction and one hold of each row lock (batching.py).
    app.extensions["bid_batcher"] = KeyedBatcher(
        lambda _key, requests: decide_bids(parts.db, requests))
    return app
