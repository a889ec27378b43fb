"""Running a service's background work: the outbox relay, its consumers and its jobs.

The same pieces run in a service's ``worker`` process (distributed shapes) and all together in
one process (the embedded mode); only the wiring differs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from .bus import EventBus, Subscription
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

    def __init__(self, bus: EventBus):
        self.bus = bus
        self.stopping = threading.Event()
        self._jobs: list[tuple[str, Job]] = []
        self._threads: list[threading.Thread] = []
        self.relays: list[OutboxRelay] = []

    def add_service(self, parts: ServiceParts, relay: bool = True) -> None:
        """Subscribe the service's consumers; add its relay and jobs."""
        for consumer in parts.consumers:
            self.bus.subscribe(consumer.subscription())
        if relay:
            outbox_relay = OutboxRelay(parts.db, self.bus)
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

    def run_until_signalled(self) -> None:
        """Start, then block until SIGTERM or SIGINT, then stop cleanly."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        log.info("background work started", extra={"jobs": [n for n, _ in self._jobs]})
        while not self.stopping.wait(1.0):
            pass
        self.stop()
