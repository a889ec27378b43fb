"""Which notifications a user also wants by email. In the app, every notification is kept; by
email, each kind can be turned off (all are on until the user says otherwise)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auction_common.events import utcnow

from .models import EmailPreference

#: Every kind of notification, as the account page names it.
KINDS = {
    "outbid": "Someone outbid me",
    "won": "I won an auction",
    "lost": "An auction I bid on ended and I did not win",
    "listing_ended": "A listing of mine ended",
    "ending_soon": "An auction I watch ends soon",
}

_preferences = EmailPreference.__table__


def email_preferences(session: Session, user_id: uuid.UUID) -> dict[str, bool]:
    """kind -> whether it is sent by email, for every kind."""
    chosen = dict(session.execute(
        select(_preferences.c.kind, _preferences.c.email).where(
            _preferences.c.user_id == user_id)).all())
    return {kind: chosen.get(kind, True) for kind in KINDS}


def emails_wanted(session: Session, notices: list[tuple[uuid.UUID, str]]) -> list[bool]:
    """Whether each (user, kind) of notification goes out by email too, in one query."""
    if not notices:
        return []
    users = {user_id for user_id, _ in notices}
    chosen = {(user_id, kind): email for user_id, kind, email in session.execute(
        select(_preferences.c.user_id, _preferences.c.kind, _preferences.c.email).where(
            _preferences.c.user_id.in_(users)))}
    return [chosen.get(notice, True) for notice in notices]


def set_email_preferences(session: Session, user_id: uuid.UUID, changes: dict[str, bool]) -> None:
    """Record the kinds given (the others keep what they were)."""
    if not changes:
        return
    now = utcnow()
    statement = insert(_preferences).values(
        [{"user_id": user_id, "kind": kind, "email": email, "updated_at": now}
         for kind, email in changes.items()])
    session.execute(statement.on_conflict_do_update(
        index_elements=[_preferences.c.user_id, _preferences.c.kind],
        set_={"email": statement.excluded.email, "updated_at": now}))
