"""Keeping the messaging tables small: published outbox rows and old inbox rows go away."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from .db import Database
from .events import utcnow

#: Published events kept for inspection and replay by ops.
OUTBOX_RETENTION = timedelta(days=1)
#: Applied event ids kept for deduplication: longer than any redelivery or dead-letter replay.
INBOX_RETENTION = timedelta(days=30)


def purge_messaging_tables(db: Database) -> tuple[int, int]:
    """Delete published outbox rows and inbox rows past their retention; (outbox, inbox)."""
    now = utcnow()
    with db.engine.begin() as conn:
        outbox = conn.execute(delete(db.outbox).where(
            db.outbox.c.published_at.is_not(None),
            db.outbox.c.published_at < now - OUTBOX_RETENTION)).rowcount
        inbox = conn.execute(delete(db.inbox).where(
            db.inbox.c.processed_at < now - INBOX_RETENTION)).rowcount
    return outbox, inbox
