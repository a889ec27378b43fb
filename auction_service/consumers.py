"""Keeps the catalog's read model (price, bid count, end, outcome) in step with bidding."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update

from auction_common.consumer import IdempotentConsumer
from auction_common.db import Database, UnitOfWork

from .models import Auction


def _newer(event_data: dict):
    """Only apply an event newer than what the read model already shows (stale ones lose)."""
    return update(Auction).where(
        Auction.id == uuid.UUID(event_data["auction_id"]), Auction.last_seq < event_data["seq"]
    )


def record_bid(uow: UnitOfWork, event: dict) -> None:
    """``bid.placed``: the new price, bid count and leader."""
    data = event["data"]
    uow.session.execute(_newer(data).values(
        current_price=data["current_price"], bid_count=data["bid_count"],
        leader_id=uuid.UUID(data["leader_id"]), ends_at=datetime.fromisoformat(data["ends_at"]),
        last_seq=data["seq"],
    ))


def record_extension(uow: UnitOfWork, event: dict) -> None:
    """``auction.extended``: the new end."""
    data = event["data"]
    uow.session.execute(_newer(data).values(
        ends_at=datetime.fromisoformat(data["ends_at"]), last_seq=data["seq"]
    ))


def record_end(uow: UnitOfWork, event: dict) -> None:
    """``auction.ended``: outcome, winner and final price."""
    data = event["data"]
    uow.session.execute(_newer(data).values(
        outcome=data["outcome"], winner_id=uuid.UUID(data["winner_id"]) if data["winner_id"]
        else None, current_price=data["price"] if data["price"] is not None
        else Auction.current_price, ended_at=datetime.fromisoformat(data["ended_at"]),
        last_seq=data["seq"],
    ))


def read_model_consumer(db: Database) -> IdempotentConsumer:
    """The consumer feeding the read model from bidding_service's events."""
    return IdempotentConsumer(db, "auction_service.read_model", {
        "bid.placed": record_bid,
        "auction.extended": record_extension,
        "auction.ended": record_end,
    })
