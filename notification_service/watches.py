"""Watchers of a listing: who to remind, and when (the end moves with edits and extensions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow

from .consumers import display_name, notify
from .messages import ending_soon_message
from .models import Watch


def start_watching(uow: UnitOfWork, event: dict) -> None:
    """``auction.watched``."""
    data = event["data"]
    values = {"title": data["title"], "ends_at": datetime.fromisoformat(data["ends_at"])}
    uow.session.execute(
        insert(Watch).values(auction_id=uuid.UUID(data["auction_id"]),
                             user_id=uuid.UUID(data["user_id"]), **values)
        .on_conflict_do_update(index_elements=[Watch.auction_id, Watch.user_id], set_=values)
    )


def stop_watching(uow: UnitOfWork, event: dict) -> None:
    """``auction.unwatched``."""
    data = event["data"]
    uow.session.execute(delete(Watch).where(Watch.auction_id == uuid.UUID(data["auction_id"]),
                                            Watch.user_id == uuid.UUID(data["user_id"])))


def follow_end(uow: UnitOfWork, event: dict) -> None:
    """``auction.extended`` / ``auction.updated``: the end moved; a later end earns a new
    reminder."""
    data = event["data"]
    ends_at = datetime.fromisoformat(data["ends_at"])
    values = {"ends_at": ends_at}
    if "title" in data:
        values["title"] = data["title"]
    auction = uuid.UUID(data["auction_id"])
    uow.session.execute(update(Watch).where(Watch.auction_id == auction, Watch.ends_at < ends_at)
                        .values(reminded_at=None))
    uow.session.execute(update(Watch).where(Watch.auction_id == auction).values(**values))


def forget_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.ended`` / ``auction.cancelled``: nothing left to remind anyone of."""
    uow.session.execute(delete(Watch).where(Watch.auction_id == uuid.UUID(
        event["data"]["auction_id"])))


WATCH_HANDLERS = {
    "auction.watched": start_watching,
    "auction.unwatched": stop_watching,
    "auction.extended": follow_end,
    "auction.updated": follow_end,
    "auction.cancelled": forget_auction,
}


def remind_watchers(db: Database, settings, batch_size: int = 100) -> int:
    """Remind, once each, the watchers of listings ending within the reminder window."""
    now = utcnow()
    with db.unit_of_work() as uow:
        due = uow.session.scalars(
            select(Watch)
            .where(Watch.reminded_at.is_(None), Watch.ends_at > now,
                   Watch.ends_at <= now + timedelta(seconds=settings.watch_reminder_seconds))
            .order_by(Watch.ends_at).limit(batch_size).with_for_update(skip_locked=True)
        ).all()
        for watch in due:
            message = ending_soon_message(
                watch.title, str(watch.auction_id),
                watch.ends_at.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC"),
                display_name(uow, str(watch.user_id)), settings.public_url)
            notify(uow, str(watch.user_id), message, {"auction_id": str(watch.auction_id)})
            watch.reminded_at = now
        uow.commit()
    return len(due)
