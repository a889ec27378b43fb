"""What bidding_service learns from the catalog and from user_service."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from auction_common.consumer import IdempotentConsumer
from auction_common.db import Database, UnitOfWork

from .handlers import cancel_auction
from .models import Bidder, LiveAuction

log = logging.getLogger(__name__)


def _pricing(data: dict) -> dict:
    increments = data.get("increments")
    return {
        "starting_price": data["starting_price"],
        "reserve_price": data.get("reserve_price"),
        "buy_now_price": data.get("buy_now_price"),
        "increments": [[band["from"], band["increment"]] for band in increments]
        if increments else None,
        "anti_sniping_seconds": data.get("anti_sniping_seconds", 0),
        "starts_at": datetime.fromisoformat(data["starts_at"]),
        "ends_at": datetime.fromisoformat(data["ends_at"]),
    }


def open_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.created``: create the auction's live state (its lockable row)."""
    data = event["data"]
    pricing = _pricing(data)
    uow.session.execute(insert(LiveAuction).values(
        id=data["auction_id"], seller_id=data["seller_id"], title=data["title"],
        currency=data["currency"], current_price=pricing["starting_price"], **pricing,
    ).on_conflict_do_nothing())


def update_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.updated``: new title always; new pricing rules and schedule only while nobody
    has bid (the catalog allows edits until the first bid; a bid that raced the edit wins)."""
    data = event["data"]
    auction_id = uuid.UUID(data["auction_id"])
    uow.session.execute(update(LiveAuction).where(LiveAuction.id == auction_id)
                        .values(title=data["title"]))
    pricing = _pricing(data)
    changed = uow.session.execute(
        update(LiveAuction)
        .where(LiveAuction.id == auction_id, LiveAuction.bid_count == 0,
               LiveAuction.closed.is_(False))
        .values(current_price=pricing["starting_price"], **pricing)
    ).rowcount
    if not changed:
        log.warning("listing edit not applied: the auction has bids or is closed",
                    extra={"auction_id": str(auction_id)})


def withdraw_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.cancelled``: close it for bids at once."""
    cancel_auction(uow, uuid.UUID(event["data"]["auction_id"]))


def remember_bidder(uow: UnitOfWork, event: dict) -> None:
    """``user.registered`` / ``user.updated``: display name (for the history) and status.

    A registration only fills a gap: redelivered late, it must not undo a later update
    (a suspension, say)."""
    data = event["data"]
    values = {"display_name": data["display_name"], "status": data.get("status", "active")}
    statement = insert(Bidder).values(user_id=uuid.UUID(data["user_id"]), **values)
    if event["type"] == "user.registered":
        statement = statement.on_conflict_do_nothing()
    else:
        statement = statement.on_conflict_do_update(index_elements=[Bidder.user_id], set_=values)
    uow.session.execute(statement)


def catalog_consumer(db: Database) -> IdempotentConsumer:
    """The consumer of the catalog's events."""
    return IdempotentConsumer(db, "bidding_service.catalog", {
        "auction.created": open_auction,
        "auction.updated": update_auction,
        "auction.cancelled": withdraw_auction,
    })


def users_consumer(db: Database) -> IdempotentConsumer:
    """The consumer of user_service's events."""
    return IdempotentConsumer(db, "bidding_service.users", {
        "user.registered": remember_bidder,
        "user.updated": remember_bidder,
    })
