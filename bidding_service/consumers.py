"""What bidding_service learns from the catalog and from user_service.

Events arrive in any order, more than once, late. Each carries its entity's ``version``, and
each handler applies only what is newer than what it holds, so that every order converges on
the producer's truth. The seller's changes that bids decide (withdrawing, new terms) reach
bidding first by the catalog's synchronous call (``handlers.change_terms``,
``handlers.withdraw_listing``); their events, arriving later, find that version applied.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert

from auction_common.consumer import IdempotentConsumer
from auction_common.db import Database, UnitOfWork

from .handlers import apply_listing, withdraw_as_told
from .models import Bidder


def _version(data: dict) -> int:
    # Events recorded before versions existed count as the oldest.
    return data.get("version", 1)


def open_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.created``: create the auction's live state (its lockable row), unless a newer
    version of the listing (or its withdrawal) got here first."""
    apply_listing(uow.session, event["data"], _version(event["data"]))


def update_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.updated``: the listing's new terms, if newer than those held and nobody has
    bid (the catalog asked bidding before saving them, so normally they are already here)."""
    apply_listing(uow.session, event["data"], _version(event["data"]))


def withdraw_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.cancelled``: closed for bids (normally already done by the catalog's call);
    arriving before ``auction.created``, it leaves a closed row that the creation cannot open."""
    data = event["data"]
    withdraw_as_told(uow, uuid.UUID(data["auction_id"]), data["seller_id"],
                     datetime.fromisoformat(data["cancelled_at"]), _version(data))


def remember_bidder(uow: UnitOfWork, event: dict) -> None:
    """``user.registered`` / ``user.updated``: display name (for the history) and status,
    applied only when the event's version of the account is newer than the replica's (a late
    registration or an old update never undoes a suspension)."""
    data = event["data"]
    values = {"display_name": data["display_name"], "status": data.get("status", "active"),
              "version": _version(data)}
    statement = insert(Bidder).values(user_id=uuid.UUID(data["user_id"]), **values)
    uow.session.execute(statement.on_conflict_do_update(
        index_elements=[Bidder.user_id], set_=values,
        where=Bidder.__table__.c.version < statement.excluded.version))


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
