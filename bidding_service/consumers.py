"""What bidding_service learns from the catalog."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert

from auction_common.consumer import IdempotentConsumer
from auction_common.db import Database, UnitOfWork

from .models import LiveAuction


def open_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.created``: create the auction's live state (its lockable row)."""
    data = event["data"]
    uow.session.execute(insert(LiveAuction).values(
        id=data["auction_id"], seller_id=data["seller_id"], title=data["title"],
        currency=data["currency"], starting_price=data["starting_price"],
        current_price=data["starting_price"],
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]),
    ).on_conflict_do_nothing())


def catalog_consumer(db: Database) -> IdempotentConsumer:
    """The consumer of the catalog's events."""
    return IdempotentConsumer(db, "bidding_service.catalog", {"auction.created": open_auction})
