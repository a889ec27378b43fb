"""Keeps the catalog's read model (price, bid count, end, outcome) in step with bidding."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, update

from auction_common.consumer import IdempotentConsumer
from auction_common.db import Database, UnitOfWork

from .models import Auction

_auctions = Auction.__table__


def _newer(event_data: dict):
    """Only apply an event newer than what the read model already shows (stale ones lose).
    A Core statement: it runs for every bid, and needs nothing of the ORM."""
    return update(_auctions).where(
        _auctions.c.id == uuid.UUID(event_data["auction_id"]),
        _auctions.c.last_seq < event_data["seq"],
    )


def record_bid(uow: UnitOfWork, event: dict) -> None:
    """``bid.placed``: the new price, bid count, leader, end, whether the reserve is met
    (public knowledge; the amount is not) and whether Buy It Now is still offered."""
    data = event["data"]
    values = dict(
        current_price=data["current_price"], bid_count=data["bid_count"],
        leader_id=uuid.UUID(data["leader_id"]), ends_at=datetime.fromisoformat(data["ends_at"]),
        last_seq=data["seq"],
    )
    if "reserve_met" in data:
        values["reserve_met"] = data["reserve_met"]
    if "leader_name" in data:
        values["leader_name"] = data["leader_name"]
    if "buy_now_available" in data:  # bidding's decision, shown as it is
        values["buy_now_available"] = data["buy_now_available"]
    uow.session.execute(_newer(data).values(**values))


def record_extension(uow: UnitOfWork, event: dict) -> None:
    """``auction.extended``: the new end. It shares its ``seq`` with the ``bid.placed`` of the
    same decision (which carries the same end), so it does not take that ``seq``: the bid,
    arriving after it, must still be applied. An extension only ever moves the end later, so
    of several the latest end wins, in whatever order they come."""
    data = event["data"]
    uow.session.execute(update(_auctions).where(
        _auctions.c.id == uuid.UUID(data["auction_id"]),
        _auctions.c.last_seq <= data["seq"],
    ).values(ends_at=func.greatest(_auctions.c.ends_at,
                                   datetime.fromisoformat(data["ends_at"]))))


def record_end(uow: UnitOfWork, event: dict) -> None:
    """``auction.ended``: outcome (``sold`` by bids or Buy-It-Now, ``unsold_no_bids``,
    ``unsold_reserve_not_met``, ``cancelled``), winner, final price and bid count. It comes
    last in the auction's ``seq`` and carries the final figures, so a ``bid.placed`` that
    arrives after it has nothing to add. A cancellation bidding made marks the listing
    cancelled too (had the catalog's own save failed after bidding closed it)."""
    data = event["data"]
    winner = data["winner_id"]
    values = dict(
        outcome=data["outcome"], reserve_met=data["outcome"] == "sold",
        winner_id=uuid.UUID(winner) if winner else None,
        current_price=data["price"] if data["price"] is not None else _auctions.c.current_price,
        ended_at=datetime.fromisoformat(data["ended_at"]), last_seq=data["seq"],
    )
    if "bid_count" in data:
        values["bid_count"] = data["bid_count"]
    if data["outcome"] == "cancelled":
        values["cancelled_at"] = func.coalesce(_auctions.c.cancelled_at,
                                               datetime.fromisoformat(data["ended_at"]))
    uow.session.execute(_newer(data).values(**values))


def read_model_consumer(db: Database) -> IdempotentConsumer:
    """The consumer feeding the read model from bidding_service's events."""
    return IdempotentConsumer(db, "auction_service.read_model", {
        "bid.placed": record_bid,
        "auction.extended": record_extension,
        "auction.ended": record_end,
    }, snapshots={"bid.placed": lambda event: event["data"]["auction_id"]})
