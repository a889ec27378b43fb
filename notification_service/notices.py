"""Writing notifications: the in-app row, its email (unless that kind's email is off, with
its unsubscribe token when the kind is optional) and ``notification.created``, in the caller's
unit of work; one notice or several at once, in the same few statements."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

# The core insert, not the PostgreSQL dialect's: SQLAlchemy caches no statement made with the
# dialect's (it may carry ON CONFLICT), so each batch compiled both inserts anew (~4% of the
# notification worker's CPU in a bidding war).
from sqlalchemy import insert, select

from auction_common.db import UnitOfWork
from auction_common.events import isoformat, utcnow

from .messages import Message
from .models import Contact, EmailDelivery, Notification
from .preferences import KINDS, emails_wanted
from .unsubscribe import unsubscribe_signer

_contacts = Contact.__table__
_notifications = Notification.__table__
_deliveries = EmailDelivery.__table__

#: (recipient's user id, what it says, its ``data``): one notification to write.
Notice = tuple[str, Message, dict]


def display_name(uow: UnitOfWork, user_id: str) -> str:
    """The user's display name from the contact replica ("there" while it is unknown)."""
    return display_names(uow, [user_id])[user_id]


def display_names(uow: UnitOfWork, user_ids: Iterable[str]) -> dict[str, str]:
    """:func:`display_name` of each user, in one query."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    known = {str(user_id): name for user_id, name in uow.session.execute(
        select(_contacts.c.user_id, _contacts.c.display_name).where(
            _contacts.c.user_id.in_([uuid.UUID(user_id) for user_id in wanted])))}
    return {user_id: known.get(str(uuid.UUID(user_id)), "there") for user_id in wanted}


def notify(uow: UnitOfWork, user_id: str, message: Message, data: dict) -> None:
    """Create an in-app notification and its email (unless the user turned that kind's email
    off), and announce ``notification.created``."""
    notify_many(uow, [(user_id, message, data)])


def notify_many(uow: UnitOfWork, notices: list[Notice]) -> list[uuid.UUID]:
    """:func:`notify` for each of ``notices``, in order, in a few statements whatever their
    number (a bidding war brings them by the dozen); returns the new notifications' ids.

    Plain Core statements, written at once (a batch of events must see each other's
    notices)."""
    if not notices:
        return []
    rows = []
    for user_id, message, data in notices:
        rows.append({"id": uuid.uuid4(), "user_id": uuid.UUID(user_id), "kind": message.kind,
                     "title": message.title, "body": message.body, "data": data,
                     # each its own moment, so that a page of notices keeps their order
                     "created_at": utcnow()})
    uow.session.execute(insert(_notifications), rows)
    wanted = emails_wanted(uow.session, [(row["user_id"], row["kind"]) for row in rows])
    emails = [(row, message) for row, (_, message, _), email
              in zip(rows, notices, wanted, strict=True) if email]
    if emails:
        sign = (unsubscribe_signer(uow.session)
                if any(message.kind in KINDS for _, message in emails) else None)
        uow.session.execute(insert(_deliveries), [{
            "id": uuid.uuid4(), "user_id": row["user_id"], "notification_id": row["id"],
            "subject": message.email_subject, "text_body": message.email_text,
            "html_body": message.email_html, "status": "pending", "attempts": 0,
            "next_attempt_at": row["created_at"],
            "unsubscribe_token": (sign(row["user_id"], message.kind)
                                  if message.kind in KINDS else None),
        } for row, message in emails])
    for row, (user_id, message, data) in zip(rows, notices, strict=True):
        uow.publish("notification.created", {
            "notification_id": str(row["id"]), "user_id": user_id, "kind": message.kind,
            "title": message.title, "body": message.body,
            "created_at": isoformat(row["created_at"]), "data": data,
        })
    return [row["id"] for row in rows]
