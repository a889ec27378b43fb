"""Use cases of notification_service: what a user asks of their notifications and email
preferences, and what an event about a user or a bid turns into.

Routes and consumers call these and nothing else; the outbid notices (``outbid``), ending
notices (``endings``), watch reminders (``watches``) and writing notices (``notices``) are
use-case modules of their own, split off by meaning."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow
from auction_common.problems import Problem

from . import endings
from .models import Contact, Notification
from .preferences import email_preferences, set_email_preferences
from .presenters import notification_view, subscription_view
from .unsubscribe import read_unsubscribe_token


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
