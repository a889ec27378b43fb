"""Use cases of the watchlist: watch, unwatch, list what one watches.

``auction.watched`` / ``auction.unwatched`` tell notification_service who to remind before a
listing ends (it follows later changes of the end through ``auction.updated``,
``auction.extended``, ``auction.cancelled`` and ``auction.ended``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert

from auction_common.db import Database
from auction_common.events import isoformat, utcnow
from auction_common.problems import Problem

from . import queries
from .models import Auction, Watch
from .presenters import auction_view, status_of
from .settings import AuctionSettings


def watch(db: Database, auction_id: uuid.UUID, user_id: str) -> dict:
    """Add a listing that has not ended to the user's watchlist (again: no change)."""
    now = utcnow()
    with db.unit_of_work() as uow:
        auction = uow.session.get(Auction, auction_id)
        if auction is None:
            raise Problem(404, "auction_not_found", "No such auction.")
        status = status_of(auction, now)
        if status in ("ended", "cancelled"):
            raise Problem(409, f"auction_{status}", f"The auction is {status}: there is "
                                                    "nothing left to watch.")
        added = uow.session.execute(
            insert(Watch).values(user_id=uuid.UUID(user_id), auction_id=auction_id,
                                 created_at=now)
            .on_conflict_do_nothing().returning(Watch.auction_id)).first()
        if added:
            uow.publish("auction.watched", {
                "auction_id": str(auction_id), "user_id": user_id, "title": auction.title,
                "ends_at": isoformat(auction.ends_at),
                **_count_watchers(uow.session, auction_id, +1),
            })
            uow.commit()
        return {"auction_id": str(auction_id), "watching": True}


def unwatch(db: Database, auction_id: uuid.UUID, user_id: str) -> dict:
    """Remove a listing from the user's watchlist (when it is not there: no change)."""
    with db.unit_of_work() as uow:
        auction = uow.session.get(Auction, auction_id)
        if auction is None:
            raise Problem(404, "auction_not_found", "No such auction.")
        removed = uow.session.execute(
            delete(Watch).where(Watch.user_id == uuid.UUID(user_id),
                                Watch.auction_id == auction_id)
            .returning(Watch.auction_id)).first()
        if removed:
            uow.publish("auction.unwatched", {
                "auction_id": str(auction_id), "user_id": user_id,
                "ends_at": isoformat(auction.ends_at),
                **_count_watchers(uow.session, auction_id, -1),
            })
            uow.commit()
        return {"auction_id": str(auction_id), "watching": False}


def _count_watchers(session, auction_id: uuid.UUID, change: int) -> dict:
    """Apply one watch (+1) or unwatch (-1) to the listing's count, and number the count it
    leaves (``watchers_seq``): the row lock orders the changes, the number lets a page that is
    shown them in another order keep the newest."""
    count, seq = session.execute(
        update(Auction).where(Auction.id == auction_id)
        .values(watchers_count=Auction.watchers_count + change,
                watchers_seq=Auction.watchers_seq + 1)
        .returning(Auction.watchers_count, Auction.watchers_seq)).one()
    return {"watchers_count": count, "watchers_seq": seq}


def watching(db: Database, user_id: str, limit: int, cursor: str | None,
             settings: AuctionSettings) -> dict:
    """The user's watchlist, most recently watched first, each with ``watched_at``."""
    now = utcnow()
    with db.unit_of_work() as uow:
        rows, next_cursor = queries.watched(uow.session, uuid.UUID(user_id), limit, cursor)
        images = queries.images_of(uow.session, [auction.id for auction, _ in rows])
        items = [{**auction_view(auction, now, images[auction.id], settings.media_url),
                  "watched_at": isoformat(watched_at)} for auction, watched_at in rows]
    return {"items": items, "next_cursor": next_cursor}
