"""Use cases of notification_service: what a user asks of their notifications and email
preferences, and what an event about a user or a bid turns into.

Routes and consumers call these and nothing else; the ending notices (``endings``), watch
reminders (``watches``) and writing one notice (``notices.notify``) are use-case modules of
their own, split off by meaning."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow
from auction_common.problems import Problem

from . import endings
from .messages import outbid_message
from .models import Contact, Notification
from .notices import display_name, notify
from .preferences import email_preferences, set_email_preferences
from .presenters import notification_view, subscription_view
from .unsubscribe import read_unsubscribe_token

_notifications = Notification.__table__


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


def list_notifications(db: Database, user_id: str, limit: int,
                       cursor: uuid.UUID | None) -> dict:
    """A page of the user's notifications, newest first, after the one ``cursor`` names
    (422 ``validation_error`` for a cursor that is not one of theirs)."""
    user = uuid.UUID(user_id)
    statement = (select(Notification).where(Notification.user_id == user)
                 .order_by(Notification.created_at.desc(), Notification.id.desc()))
    with db.unit_of_work() as uow:
        if cursor:
            last = uow.session.get(Notification, cursor)
            if last is None or last.user_id != user:
                raise Problem(422, "validation_error", "The cursor is not valid.",
                              [{"field": "cursor", "message": "unknown notification"}])
            statement = statement.where(
                (Notification.created_at, Notification.id) < (last.created_at, last.id))
        rows = uow.session.scalars(statement.limit(limit + 1)).all()
        items = [notification_view(n) for n in rows[:limit]]
    next_cursor = items[-1]["id"] if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def mark_read(db: Database, user_id: str, notification_id: uuid.UUID) -> None:
    """Mark one of the user's notifications read; 404 ``notification_not_found`` for any
    other (someone else's included: nobody learns it exists)."""
    with db.unit_of_work() as uow:
        result = uow.session.execute(
            update(Notification)
            .where(Notification.id == notification_id,
                   Notification.user_id == uuid.UUID(user_id))
            .values(read_at=utcnow()))
        if result.rowcount == 0:
            raise Problem(404, "notification_not_found", "No such notification.")
        uow.commit()


def _unread(session: Session, user_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))


def unread_count(db: Database, user_id: str) -> int:
    """How many of the user's notifications are unread."""
    with db.unit_of_work() as uow:
        return _unread(uow.session, uuid.UUID(user_id))


def mark_all_read(db: Database, user_id: str, ids: list[uuid.UUID] | None = None) -> int:
    """Mark the user's unread notifications read (only those of ``ids`` when given; others'
    ids are ignored); answers how many are left unread."""
    user = uuid.UUID(user_id)
    statement = (update(Notification)
                 .where(Notification.user_id == user, Notification.read_at.is_(None))
                 .values(read_at=utcnow()))
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    with db.unit_of_work() as uow:
        uow.session.execute(statement)
        count = _unread(uow.session, user)
        uow.commit()
    return count


def email_choices(db: Database, user_id: str) -> dict[str, bool]:
    """Per kind of notification, whether it also comes to the user by email."""
    with db.unit_of_work() as uow:
        return email_preferences(uow.session, uuid.UUID(user_id))


def choose_email(db: Database, user_id: str, changes: dict[str, bool]) -> dict[str, bool]:
    """Turn the kinds given on or off by email (the others keep their choice); answers every
    kind's choice after the change."""
    user = uuid.UUID(user_id)
    with db.unit_of_work() as uow:
        set_email_preferences(uow.session, user, changes)
        uow.commit()
        return email_preferences(uow.session, user)


def unsubscribe_preview(db: Database, token: str) -> dict:
    """What an unsubscribe token would turn off (400 ``invalid_token`` for a forged one)."""
    with db.unit_of_work() as uow:
        user_id, kind = read_unsubscribe_token(uow.session, token)
        answer = subscription_view(kind, email_preferences(uow.session, user_id))
        uow.commit()  # the signing key, should this be its first use
    return answer


def unsubscribe(db: Database, token: str) -> dict:
    """Turn off the kind of email an unsubscribe token names (no sign-in: the token is the
    proof); 400 ``invalid_token`` for a forged one."""
    with db.unit_of_work() as uow:
        user_id, kind = read_unsubscribe_token(uow.session, token)
        set_email_preferences(uow.session, user_id, {kind: False})
        answer = subscription_view(kind, email_preferences(uow.session, user_id))
        uow.commit()
    return answer


def sale_contact(db: Database, auction_id: uuid.UUID, user_id: str) -> dict:
    """A sold auction's other party, for its buyer or seller only (see
    ``endings.sale_contact``)."""
    with db.unit_of_work() as uow:
        return endings.sale_contact(uow, auction_id, user_id)
