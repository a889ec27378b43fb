"""Watchers of a listing: who to remind, and when (the end moves with edits and extensions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow

from .messages import ending_soon_message
from .models import FinishedAuction, Watch
from .notices import display_names, notify_many


def start_watching(uow: UnitOfWork, event: dict) -> None:
    """``auction.watched``: remember the watcher, unless the auction already finished (the
    event came late). The end it carries is the catalog's at that moment: once an extension
    or edit has been applied, that one stands."""
    data = event["data"]
    auction = uuid.UUID(data["auction_id"])
    finished = uow.session.execute(
        select(FinishedAuction.auction_id).where(FinishedAuction.auction_id == auction)).first()
    if finished is not None:
        return
    values = {"title": data["title"], "ends_at": datetime.fromisoformat(data["ends_at"])}
    table = Watch.__table__
    uow.session.execute(
        insert(Watch).values(auction_id=auction, user_id=uuid.UUID(data["user_id"]), **values)
        .on_conflict_do_update(index_elements=[Watch.auction_id, Watch.user_id], set_={
            "title": values["title"],
            "ends_at": case((and_(table.c.end_seq == 0, table.c.listing_version == 0),
                             values["ends_at"]), else_=table.c.ends_at)})
    )


def stop_watching(uow: UnitOfWork, event: dict) -> None:
    """``auction.unwatched``."""
    data = event["data"]
    uow.session.execute(delete(Watch).where(Watch.auction_id == uuid.UUID(data["auction_id"]),
                                            Watch.user_id == uuid.UUID(data["user_id"])))


def follow_end(uow: UnitOfWork, event: dict) -> None:
    """``auction.extended`` / ``auction.updated``: the end moved; a later end earns a new
    reminder. Only newer news is applied: an extension with a higher ``seq`` than the last
    one applied (extensions only move the end later), an edit with a higher listing
    ``version`` while no extension was applied (edits end at the first bid, extensions start
    after it)."""
    data = event["data"]
    ends_at = datetime.fromisoformat(data["ends_at"])
    table = Watch.__table__
    auction = table.c.auction_id == uuid.UUID(data["auction_id"])
    if event["type"] == "auction.extended":
        newer = table.c.end_seq < data["seq"]
        values = {"ends_at": func.greatest(table.c.ends_at, ends_at), "end_seq": data["seq"]}
    else:
        version = data.get("version", 1)
        newer = and_(table.c.end_seq == 0, table.c.listing_version < version)
        values = {"ends_at": ends_at, "title": data["title"], "listing_version": version}
    uow.session.execute(update(Watch).where(auction, newer, table.c.ends_at < ends_at)
                        .values(reminded_at=None))
    uow.session.execute(update(Watch).where(auction, newer).values(**values))


def forget_auction(uow: UnitOfWork, event: dict) -> None:
    """``auction.ended`` / ``auction.cancelled``: nothing left to remind anyone of; a late
    ``auction.watched`` finds the auction finished."""
    auction = uuid.UUID(event["data"]["auction_id"])
    uow.session.execute(delete(Watch).where(Watch.auction_id == auction))
    uow.session.execute(insert(FinishedAuction).values(auction_id=auction)
                        .on_conflict_do_nothing())


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
        names = display_names(uow, (str(watch.user_id) for watch in due))
        notify_many(uow, [(str(watch.user_id), ending_soon_message(
            watch.title, str(watch.auction_id),
            watch.ends_at.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC"),
            names[str(watch.user_id)], settings.public_url),
            {"auction_id": str(watch.auction_id)}) for watch in due])
        for watch in due:
            watch.reminded_at = now
        uow.commit()
    return len(due)
