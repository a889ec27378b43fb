"""Mails the password reset link user_service asks for (``user.password_reset_requested``).

Not a notification: no in-app item, no preference can turn it off, and it goes to the address
the event names (the account's current one), whatever the contact replica says yet.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from sqlalchemy.dialects.postgresql import insert

from auction_common.consumer import IdempotentConsumer
from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow

from .messages import render
from .models import Contact, EmailDelivery


def send_password_reset_link(uow: UnitOfWork, event: dict, public_url: str) -> None:
    """Queue the email with the reset link (the delivery job sends it, with retries)."""
    data = event["data"]
    user_id = uuid.UUID(data["user_id"])
    # The delivery job sends to the contact replica's address: fill the gap if the account's
    # registration has not arrived yet (an update, when it comes, still wins).
    uow.session.execute(insert(Contact).values(
        user_id=user_id, email=data["email"], display_name=data["display_name"],
        updated_at=utcnow()).on_conflict_do_nothing())
    context = {
        "name": data["display_name"],
        "url": f"{public_url.rstrip('/')}/reset-password?token={quote(data['token'])}",
        "expires_at": data["expires_at"],
    }
    subject = "Choose a new password"
    uow.session.execute(insert(EmailDelivery).values(
        id=uuid.uuid4(), user_id=user_id, notification_id=None, subject=subject,
        text_body=render("password_reset.txt", context),
        html_body=render("password_reset.html", context), status="pending", attempts=0,
        next_attempt_at=utcnow(),
    ))


def password_reset_consumer(db: Database, public_url: str) -> IdempotentConsumer:
    """The consumer mailing password reset links."""
    return IdempotentConsumer(db, "notification_service.password_resets", {
        "user.password_reset_requested":
            lambda uow, event: send_password_reset_link(uow, event, public_url),
    })
