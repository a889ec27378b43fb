"""Turns platform events into notifications: in-app now, by email through the delivery job."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from auction_common.consumer import IdempotentConsumer
from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow

from .endings import send_ending_notices
from .messages import outbid_message
from .models import Contact, Notification
from .notices import display_name, notify
from .watches import WATCH_HANDLERS, forget_auction


def remember_contact(uow: UnitOfWork, event: dict) -> None:
    """``user.registered`` / ``user.updated``: keep where to send a user's mail, applied only
    when the event's version of the account is newer than the replica's (a late registration
    or an old update never undoes a newer change)."""
    data = event["data"]
    values = {"email": data["email"], "display_name": data["display_name"],
              "updated_at": utcnow(), "version": data.get("version", 1)}
    statement = insert(Contact).values(user_id=uuid.UUID(data["user_id"]), **values)
    uow.session.execute(statement.on_conflict_do_update(
        index_elements=[Contact.user_id], set_=values,
        where=Contact.__table__.c.version < statement.excluded.version))


_notifications = Notification.__table__


def send_outbid_notice(uow: UnitOfWork, event: dict, public_url: str,
                       quiet_seconds: int = 0) -> None:
    """``bid.outbid``: tell the bidder who lost the lead.

    In a bidding war one bidder may be outbid many times a minute: while their last outbid
    notice for this auction is unread and younger than ``quiet_seconds``, it is brought up to
    date instead of sending another email (the page still says so at once, over Socket.IO)."""
    data = event["data"]
    message = outbid_message(data, display_name(uow, data["user_id"]), public_url)
    details = {"auction_id": data["auction_id"], "seq": data["seq"]}
    if quiet_seconds:
        # One decision at a time per bidder and auction, whichever worker has the event: two
        # workers must not both find no recent notice and both send an email.
        uow.session.execute(select(func.pg_advisory_xact_lock(
            func.hashtextextended(f"outbid:{data['user_id']}:{data['auction_id']}", 0))))
        n = _notifications.c
        recent = uow.session.execute(
            select(n.id, n.data["seq"].as_integer().label("seq")).where(
                n.user_id == uuid.UUID(data["user_id"]), n.kind == "outbid",
                n.read_at.is_(None), n.data["auction_id"].astext == data["auction_id"],
                n.created_at > utcnow() - timedelta(seconds=quiet_seconds))
            .order_by(n.created_at.desc()).limit(1).with_for_update()
        ).first()
        if recent is not None:
            if (recent.seq or 0) < data["seq"]:
                uow.session.execute(update(_notifications).where(n.id == recent.id).values(
                    title=message.title, body=message.body, data=details))
            return
    notify(uow, data["user_id"], message, details)


def send_ending_notices_and_forget_watches(uow: UnitOfWork, event: dict, public_url: str):
    """``auction.ended``: everyone's notices (see ``endings``); watchers need no reminder now."""
    send_ending_notices(uow, event, public_url)
    forget_auction(uow, event)


def notification_consumer(db: Database, public_url: str,
                          outbid_quiet_seconds: int = 0) -> IdempotentConsumer:
    """The consumer of every event that becomes a notification."""
    return IdempotentConsumer(db, "notification_service.notify", {
        **WATCH_HANDLERS,
        "user.registered": remember_contact,
        "user.updated": remember_contact,
        "bid.outbid": lambda uow, event: send_outbid_notice(uow, event, public_url,
                                                            outbid_quiet_seconds),
        "auction.ended": lambda uow, event: send_ending_notices_and_forget_watches(
            uow, event, public_url),
    })
