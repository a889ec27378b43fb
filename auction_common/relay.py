"""The outbox relay: publishes committed events, woken by NOTIFY, polling only as a fallback."""

from __future__ import annotations

import logging
import select
import threading
import time
import uuid

from sqlalchemy import select as sql_select
from sqlalchemy import update

from .db import Database, notify_channel
from .events import utcnow

log = logging.getLogger(__name__)


class OutboxRelay:
    """Moves outbox rows to the bus in commit order, marking each batch once confirmed.

    A crash after publishing and before marking publishes the batch again: consumers are
    idempotent, so that costs nothing but a duplicate delivery.
    """

    def __init__(self, db: Database, bus, poll_interval: float = 1.0, batch_size: int = 200):
        self.db = db
        self.bus = bus
        self.poll_interval = poll_interval
        self.batch_size = batch_size

    def relay_once(self) -> int:
        """Publish one batch of unpublished events; returns how many.

        Two round trips to the database (BEGIN with the SELECT, the UPDATE with the COMMIT:
        a pipelined unit of work) around the publish, instead of four."""
        outbox = self.db.outbox
        with self.db.pipelined_unit_of_work() as uow:
            rows = uow.session.execute(
                sql_select(outbox.c.position, outbox.c.payload)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.position)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0  # leaving the unit of work rolls the empty transaction back
            self.bus.publish([row.payload for row in rows])
            uow.write_events_and_commit_with(
                f'UPDATE "{self.db.schema}".outbox SET published_at = :at '
                "WHERE position = ANY(:positions)",
                {"at": utcnow(), "positions": [row.position for row in rows]})
        return len(rows)

    def unpublish(self, event_ids: list[str]) -> int:
        """Mark this outbox's rows among ``event_ids`` unpublished again (events a bus could not
        deliver before stopping), so that the next start publishes them; returns how many."""
        ids = [uuid.UUID(str(event_id)) for event_id in event_ids]
        if not ids:
            return 0
        outbox = self.db.outbox
        with self.db.engine.begin() as conn:
            return conn.execute(update(outbox).where(outbox.c.id.in_(ids))
                                .values(published_at=None)).rowcount

    def drain(self) -> int:
        """Publish until nothing is left; returns how many. A batch smaller than the batch size
        took everything there was (a later commit wakes the relay again with its NOTIFY), so no
        empty transaction follows it."""
        total = 0
        while True:
            count = self.relay_once()
            total += count
            if count < self.batch_size:
                return total

    def run(self, stopping: threading.Event) -> None:
        """Relay until ``stopping`` is set: drain on every NOTIFY, and every ``poll_interval``
        as a fallback (a lost notification costs at most that long)."""
        listener = None
        due, next_poll = True, 0.0
        while not stopping.is_set():
            try:
                if listener is None:
                    listener, due = self._listen(), True
                if due or time.monotonic() >= next_poll:
                    self.drain()
                    due, next_poll = False, time.monotonic() + self.poll_interval
                wait = min(0.5, max(0.0, next_poll - time.monotonic()))
                readable, _, _ = select.select([listener], [], [], wait)
                if readable:
                    listener.poll()
                    if listener.notifies:
                        listener.notifies.clear()
                        due = True
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"schema": self.db.schema})
                listener = self._close(listener)
                stopping.wait(min(self.poll_interval, 1.0))
        self._close(listener)

    def _listen(self):
        raw = self.db.engine.raw_connection()
        connection = raw.driver_connection
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'LISTEN "{notify_channel(self.db.schema)}"')
        self._raw = raw
        return connection

    def _close(self, listener):
        if listener is not None:
            try:
                self._raw.invalidate()
            except Exception:
                pass
        return None
