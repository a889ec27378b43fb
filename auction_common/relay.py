"""The outbox relay: publishes committed events, woken by NOTIFY, polling only as a fallback."""

from __future__ import annotations

import logging
import select
import threading
import time
import uuid

from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from sqlalchemy import update

from .db import Database, notify_channel, planner_settings_sql
from .events import utcnow

log = logging.getLogger(__name__)


#: The unpublished rows are read in order through their partial index, never by a bitmap scan:
#: every published row leaves a dead entry in that index until a vacuum, and a bitmap scan
#: visits each one's heap page every time (4,362 entries, 312 pages, 1 ms for 6 rows, measured
#: under 200 bids/s), while an ordered index scan marks the dead ones once and then skips them.
#: The planner, told by its statistics that few rows are unpublished, chose the bitmap.
_ORDERED_SCAN = planner_settings_sql({"enable_bitmapscan": "off", "enable_seqscan": "off"})


class OutboxRelay:
    """Moves outbox rows to the bus in commit order, marking each batch once confirmed.

    A crash after publishing and before marking publishes the batch again: consumers are
    idempotent, so that costs nothing but a duplicate delivery.
    """

    def __init__(self, db: Database, bus, poll_interval: float = 1.0, batch_size: int = 200,
                 batch_wait: float = 0.0):
        """``batch_wait``: the least time between two drains that commits wake (see
        :meth:`run`); 0 drains at every commit."""
        self.db = db
        self.bus = bus
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.batch_wait = batch_wait

    def relay_once(self) -> int:
        """Publish one batch of unpublished events; returns how many."""
        with self.db.autocommit_connection() as raw:
            return self._relay_batch(raw.driver_connection)

    def _relay_batch(self, connection) -> int:
        """One batch on ``connection`` (psycopg2, autocommit): two round trips, BEGIN with the
        SELECT and the UPDATE with the COMMIT, around the publish.

        Plain driver calls: through a SQLAlchemy session the same two statements cost the
        relay ~0.8 ms of CPU more per batch (building and compiling the statement, the
        session, the execution context), several times the statements' own cost, and the
        relay runs about once per bid when bids are spread."""
        schema = self.db.schema
        # Publishing nothing connects to the broker where it is not connected yet: a broker
        # that is slow to reach (a name that takes 40 s to resolve, seen under podman) keeps
        # the relay waiting, but never with the outbox rows locked in an open transaction.
        self.bus.publish([])
        with connection.cursor() as cursor:
            try:
                cursor.execute(
                    f'BEGIN; {_ORDERED_SCAN}; SELECT position, payload FROM "{schema}".outbox '
                    "WHERE published_at IS NULL ORDER BY position LIMIT %s "
                    "FOR UPDATE SKIP LOCKED", (self.batch_size,))
                rows = cursor.fetchall()
                if not rows:
                    cursor.execute("ROLLBACK")
                    return 0
                self.bus.publish([payload for _, payload in rows])
                cursor.execute(
                    f'UPDATE "{schema}".outbox SET published_at = %s '
                    "WHERE position = ANY(%s); COMMIT",
                    (utcnow(), [position for position, _ in rows]))
                return len(rows)
            except BaseException:
                if connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
                    try:  # nothing marked: the rows' locks go, they stay unpublished
                        cursor.execute("ROLLBACK")
                    except Exception:
                        pass  # a broken connection: the server rolls back without us
                raise

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

    def drain(self, connection=None) -> int:
        """Publish until nothing is left (on ``connection`` if given, else on a pooled one per
        batch); returns how many. A batch smaller than the batch size took everything there
        was (a later commit wakes the relay again with its NOTIFY), so no empty transaction
        follows it."""
        total = 0
        while True:
            if connection is None:
                count = self.relay_once()
            else:
                count = self._relay_batch(connection)
            total += count
            if count < self.batch_size:
                return total

    def run(self, stopping: threading.Event) -> None:
        """Relay until ``stopping`` is set: drain on every NOTIFY, and every ``poll_interval``
        as a fallback (a lost notification costs at most that long). The batches go through
        the connection that listens, which is the relay's own anyway.

        A commit that comes within ``batch_wait`` of the last drain waits for the rest of it,
        so that the commits of that moment go out as one batch: one transaction and one
        confirmed publish for all of them instead of one each (when bids pour in, a drain per
        commit is a drain per group of bids). A commit after a quiet moment goes out at once."""
        listener = None
        due, next_poll, drained = True, 0.0, float("-inf")
        while not stopping.is_set():
            try:
                if listener is None:
                    listener, due = self._listen(), True
                if due or time.monotonic() >= next_poll:
                    pause = drained + self.batch_wait - time.monotonic()
                    if due and pause > 0:
                        if stopping.wait(pause):
                            break
                        listener.poll()  # the NOTIFYs that came meanwhile: this drain reads
                    listener.notifies.clear()  # what they announced, the drain reads
                    self.drain(listener)
                    drained = time.monotonic()
                    due, next_poll = False, drained + self.poll_interval
                # A NOTIFY that came in with the drain's own statements is in ``notifies``
                # already: its socket has nothing more to say.
                if not listener.notifies:
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
