"""Running a service's background work: the outbox relay, its consumers and its jobs.

The same pieces run in a service's ``worker`` process (distributed shapes) and all together in
one process (the embedded mode); only the wiring differs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import select

from .bus import EventBus, Subscription, topic_matches
from .consumer import IdempotentConsumer
from .db import Database
from .housekeeping import purge_messaging_tables
from .relay import OutboxRelay

log = logging.getLogger(__name__)

Job = Callable[[threading.Event], None]


@dataclass
class ServiceParts:
    """What a service runs besides its web app."""

    name: str
    db: Database
    consumers: list[IdempotentConsumer] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)


def _applied(consumer: IdempotentConsumer, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` the consumer's inbox records."""
    inbox = consumer.db.inbox
    with consumer.db.engine.connect() as conn:
        return {str(event_id) for event_id in conn.execute(
            select(inbox.c.event_id).where(
                inbox.c.consumer == consumer.name,
                inbox.c.event_id.in_([uuid.UUID(i) for i in event_ids]))).scalars()}


def periodic(interval: float, action: Callable[[], object]) -> Job:
    """A job that calls ``action`` every ``interval`` seconds until stopped, surviving errors."""

    def run(stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                action()
            except Exception:
                log.exception("periodic job failed", extra={"job": getattr(action, "__name__", "")})
            stopping.wait(interval)

    return run


class Background:
    """Starts and stops the background work of one or several services on one bus."""

    def __init__(self, bus: EventBus, relay_batch_wait: float = 0.0):
        """``relay_batch_wait``: each outbox relay's ``batch_wait`` (seconds)."""
        self.bus = bus
        self.relay_batch_wait = relay_batch_wait
        self.stopping = threading.Event()
        self._jobs: list[tuple[str, Job]] = []
        self._threads: list[threading.Thread] = []
        self.relays: list[OutboxRelay] = []
        self.consumers: list[IdempotentConsumer] = []

    def add_service(self, parts: ServiceParts, relay: bool = True) -> None:
        """Subscribe the service's consumers; add its relay and jobs."""
        for consumer in parts.consumers:
            self.bus.subscribe(consumer.subscription())
            self.consumers.append(consumer)
        if relay:
            outbox_relay = OutboxRelay(parts.db, self.bus, batch_wait=self.relay_batch_wait)
            self.relays.append(outbox_relay)
            self._jobs.append((f"{parts.name}:relay", outbox_relay.run))
            self._jobs.append((f"{parts.name}:housekeeping",
                               periodic(600, partial(purge_messaging_tables, parts.db))))
        for name, job in parts.jobs.items():
            self._jobs.append((f"{parts.name}:{name}", job))

    def subscribe(self, subscription: Subscription) -> None:
        """Add a plain (non-idempotent) subscription, such as real-time fan-out."""
        self.bus.subscribe(subscription)

    def start(self) -> None:
        """Start consuming and every job, each in its own thread."""
        if hasattr(self.bus, "undelivered"):  # a bus that forgets what it held when killed
            self.publish_again_what_was_not_applied()
        self.bus.start()
        for name, job in self._jobs:
            thread = threading.Thread(target=job, args=(self.stopping,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop every job (waiting up to ``timeout`` in all), then the bus. Events an
        in-process bus could not deliver in time are marked unpublished in their outboxes,
        so the next start publishes them again: kept, not lost."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self.bus.stop()
        undelivered = getattr(self.bus, "undelivered", None)
        if undelivered is None:
            return
        ids = [envelope["id"] for envelope in undelivered()]
        if ids:
            kept = sum(relay.unpublish(ids) for relay in self.relays)
            log.warning("events kept for the next start", extra={"events": kept})

    def publish_again_what_was_not_applied(self, chunk: int = 5000) -> int:
        """Mark unpublished every published outbox row that a consumer of its type has not
        recorded in its inbox; returns how many.

        An in-process bus holds the events between the relay and the consumers in memory: a
        process killed outright (SIGKILL, power loss) loses what it held, though the outbox
        says published. Before consuming again, each such event is published once more — to
        every subscriber, and the others' inboxes skip it. Published rows live a day
        (``OUTBOX_RETENTION``), applied ids thirty, so every row looked at still has its
        inbox records."""
        total = 0
        for relay in self.relays:
            outbox = relay.db.outbox
            with relay.db.engine.connect() as conn:
                published = conn.execute(select(outbox.c.id, outbox.c.type)
                                         .where(outbox.c.published_at.is_not(None))).all()
            missing: set[str] = set()
            for consumer in self.consumers:
                keys = consumer.subscription().routing_keys
                wanted = [str(event_id) for event_id, kind in published
                          if any(topic_matches(key, kind) for key in keys)]
                for start in range(0, len(wanted), chunk):
                    part = wanted[start:start + chunk]
                    missing.update(set(part) - _applied(consumer, part))
            kept = relay.unpublish(sorted(missing))
            if kept:
                log.warning("events published again: a consumer had not applied them",
                            extra={"events": kept, "producer": relay.db.producer})
            total += kept
        return total

    def run_until_signalled(self) -> None:
        """Start, then block until SIGTERM or SIGINT, then stop cleanly."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        log.info("background work started", extra={"jobs": [n for n, _ in self._jobs]})
        while not self.stopping.wait(1.0):
            pass
        self.stop()
