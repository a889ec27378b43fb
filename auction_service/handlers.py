"""Use cases of auction_service."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select

from auction_common.db import Database
from auction_common.events import isoformat, utcnow
from auction_common.problems import Problem

from .domain import check_schedule, public_status
from .models import Auction


def auction_view(auction: Auction, now: datetime | None = None) -> dict:
    """The public view of a listing (never any hidden pricing rule)."""
    now = now or utcnow()
    return {
        "id": str(auction.id),
        "seller_id": str(auction.seller_id),
        "title": auction.title,
        "description": auction.description,
        "category": auction.category,
        "currency": auction.currency,
        "starting_price": auction.starting_price,
        "current_price": auction.current_price,
        "bid_count": auction.bid_count,
        "leader_id": str(auction.leader_id) if auction.leader_id else None,
        "starts_at": isoformat(auction.starts_at),
        "ends_at": isoformat(auction.ends_at),
        "created_at": isoformat(auction.created_at),
        "status": public_status(auction.starts_at, auction.ends_at, now,
                                auction.cancelled_at is not None, auction.outcome is not None),
        "outcome": auction.outcome,
        "winner_id": str(auction.winner_id) if auction.winner_id else None,
    }


def create_auction(db: Database, seller_id: str, listing: dict, settings) -> dict:
    """List an item and announce it with ``auction.created`` (one transaction)."""
    now = utcnow()
    starts_at = listing.get("starts_at") or now
    check_schedule(starts_at, listing["ends_at"], now, settings.auction_min_duration_seconds,
                   settings.auction_max_duration_seconds)
    auction = Auction(
        id=uuid.uuid4(), seller_id=uuid.UUID(seller_id), title=listing["title"].strip(),
        description=listing.get("description", ""), category=listing["category"],
        currency=listing["currency"], starting_price=listing["starting_price"],
        starts_at=starts_at, ends_at=listing["ends_at"], current_price=listing["starting_price"],
        bid_count=0, last_seq=0, created_at=now,
    )
    with db.unit_of_work() as uow:
        uow.session.add(auction)
        uow.publish("auction.created", {
            "auction_id": str(auction.id),
            "seller_id": seller_id,
            "title": auction.title,
            "category": auction.category,
            "currency": auction.currency,
            "starting_price": auction.starting_price,
            "starts_at": isoformat(auction.starts_at),
            "ends_at": isoformat(auction.ends_at),
            "reserve_price": None,
            "buy_now_price": None,
            "increments": None,
            "anti_sniping_seconds": 120,
        })
        uow.commit()
        return auction_view(auction, now)


def get_auction(db: Database, auction_id: uuid.UUID) -> dict:
    """One listing, or 404 ``auction_not_found``."""
    with db.unit_of_work() as uow:
        auction = uow.session.get(Auction, auction_id)
        if auction is None:
            raise Problem(404, "auction_not_found", "No such auction.")
        return auction_view(auction)


def encode_cursor(auction: Auction) -> str:
    """An opaque cursor pointing just after ``auction`` in newest-first order."""
    raw = f"{auction.created_at.isoformat()}|{auction.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor points after; 422 when it is not one of ours."""
    try:
        created, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "validation_error", "The cursor is not valid.",
                      [{"field": "cursor", "message": "not a cursor from this API"}]) from None


def list_auctions(db: Database, limit: int, cursor: str | None, category: str | None,
                  seller_id: uuid.UUID | None, status: str | None) -> dict:
    """Newest listings first, with keyset pagination (stable while listings are added)."""
    now = utcnow()
    query = select(Auction).order_by(Auction.created_at.desc(), Auction.id.desc())
    if cursor:
        created, ident = decode_cursor(cursor)
        query = query.where(or_(Auction.created_at < created,
                                and_(Auction.created_at == created, Auction.id < ident)))
    if category:
        query = query.where(Auction.category == category)
    if seller_id:
        query = query.where(Auction.seller_id == seller_id)
    if status == "live":
        query = query.where(Auction.cancelled_at.is_(None), Auction.outcome.is_(None),
                            Auction.starts_at <= now, Auction.ends_at > now)
    elif status == "scheduled":
        query = query.where(Auction.cancelled_at.is_(None), Auction.starts_at > now)
    elif status == "ended":
        query = query.where(Auction.cancelled_at.is_(None),
                            or_(Auction.outcome.is_not(None), Auction.ends_at <= now))
    elif status == "cancelled":
        query = query.where(Auction.cancelled_at.is_not(None))
    with db.unit_of_work() as uow:
        rows = uow.session.scalars(query.limit(limit + 1)).all()
        items = [auction_view(a, now) for a in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
