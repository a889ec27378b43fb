"""Writing a notification: the in-app row, its email (unless that kind's email is off, with
its unsubscribe token when the kind is optional) and ``notification.created``, in the caller's
unit of work."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from auction_common.db import UnitOfWork
from auction_common.events import isoformat, utcnow

from .messages import Message
from .models import Contact, EmailDelivery, Notification
from .preferences import KINDS, wants_email
from .unsubscribe import unsubscribe_token

_contacts = Contact.__table__
_notifications = Notification.__table__
_deliveries = EmailDelivery.__table__


def display_name(uow: UnitOfWork, user_id: str) -> str:
    """The user's display name from the contact replica ("there" while it is unknown)."""
    name = uow.session.execute(
        select(_contacts.c.display_name).where(_contacts.c.user_id == uuid.UUID(user_id))
    ).scalar()
    return name if name is not None else "there"


def notify(uow: UnitOfWork, user_id: str, message: Message, data: dict) -> None:
    """Create an in-app notification and its email (unless the user turned that kind's email
    off), and announce ``notification.created``.

    Plain Core statements, written at once (events pour in during a bidding war, and a batch
    of them must see each other's notices)."""
    notification_id = uuid.uuid4()
    now = utcnow()
    recipient = uuid.UUID(user_id)
    uow.session.execute(insert(_notifications).values(
        id=notification_id, user_id=recipient, kind=message.kind, title=message.title,
        body=message.body, data=data, created_at=now,
    ))
    if wants_email(uow.session, recipient, message.kind):
        token = (unsubscribe_token(uow.session, recipient, message.kind)
                 if message.kind in KINDS else None)
        uow.session.execute(insert(_deliveries).values(
            id=uuid.uuid4(), user_id=recipient, notification_id=notification_id,
            subject=message.email_subject, text_body=message.email_text,
            html_body=message.email_html, status="pending", attempts=0, next_attempt_at=now,
            unsubscribe_token=token,
        ))
    uow.publish("notification.created", {
        "notification_id": str(notification_id), "user_id": user_id, "kind": message.kind,
        "title": message.title, "body": message.body, "created_at": isoformat(now),
        "data": data,
    })
