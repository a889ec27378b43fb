"""Builds auction_service: ``create_app`` for the web process, ``build_parts`` for the worker."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from flask import Flask

from auction_common import idempotency
from auction_common.runtime import ServiceParts, periodic
from auction_common.suspension import (
    account_status_consumer,
    refuse_suspended_accounts,
    status_lookup,
)
from auction_common.webapp import service_app, service_database

from .bidding import BiddingGate, http_transport
from .consumers import read_model_consumer
from .models import account_statuses, metadata
from .routes import api, bp, media
from .settings import AuctionSettings, load

SERVICE_DIR = Path(__file__).parent
EVENT_SCHEMAS = SERVICE_DIR / "event_schemas"


def build_parts(settings: AuctionSettings) -> ServiceParts:
    """The database, consumers and jobs of auction_service."""
    db = service_database(settings, metadata, "auction_service", EVENT_SCHEMAS)
    return ServiceParts(name="auction_service", db=db,
                        consumers=[read_model_consumer(db), account_status_consumer(
                            db, "auction_service", account_statuses)],
                        jobs={"idempotency_keys": periodic(
                            3600, partial(idempotency.forget_old_answers, db))})


def create_app(settings: AuctionSettings | None = None,
               parts: ServiceParts | None = None, bidding: BiddingGate | None = None) -> Flask:
    """The auction_service web app. ``bidding``: how it reaches bidding_service (by default
    over HTTP at ``BIDDING_URL``; the embedded mode passes an in-process one)."""
    settings = settings or load()
    parts = parts or build_parts(settings)
    # JSON bodies stay small; the photo upload route raises its own request's limit.
    app = service_app("auction_service", settings, parts,
                      [bp, media], api, ("/api/auctions",), max_body_bytes=256 * 1024)
    app.extensions["bidding"] = bidding or BiddingGate(
        http_transport(settings.bidding_url) if settings.bidding_url else None)
    refuse_suspended_accounts(app, status_lookup(
        parts.db, account_statuses.c.user_id, account_statuses.c.status))
    return app
