"""The in-process bus of the embedded mode: one queue and one worker thread per subscription,
retries on timers, dead letters kept in memory (replayable); the semantics of
:mod:`.interface`, without a broker."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time

from .interface import Subscription, counts_as_attempt, deliver_all, retry_delay, topic_matches

log = logging.getLogger(__name__)


class InProcessBus:
    """An asynchronous, at-least-once bus inside one process (the embedded mode)."""

    def __init__(self, max_attempts: int = 5, batch_size: int = 32):
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self._subscriptions: list[tuple[Subscription, queue.Queue]] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.dead_letters: dict[str, list[dict]] = {}
        self._lock = threading.Lock()
        self._retries: set[tuple[threading.Timer, str]] = set()
        self._in_flight: dict[str, list[str]] = {}  # per worker: the batch it is handling

    def publish(self, envelopes: list[dict]) -> None:
        """Enqueue each event, as JSON text, on every subscription that binds its type."""
        for envelope in envelopes:
            body = json.dumps(envelope)
            with self._lock:
                targets = list(self._subscriptions)
            for subscription, inbox in targets:
                if any(topic_matches(k, envelope["type"]) for k in subscription.routing_keys):
                    inbox.put((body, 0))

    def subscribe(self, subscription: Subscription) -> None:
        """Add a queue; its worker starts with :meth:`start` (or at once if already started)."""
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            self._subscriptions.append((subscription, inbox))
        if self._threads:
            self._start_worker(subscription, inbox)

    def start(self) -> None:
        """Start one worker per subscription."""
        for subscription, inbox in self._subscriptions:
            self._start_worker(subscription, inbox)

    def _start_worker(self, subscription: Subscription, inbox: queue.Queue) -> None:
        thread = threading.Thread(
            target=self._work, args=(subscription, inbox), name=f"bus:{subscription.queue}",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def _work(self, subscription: Subscription, inbox: queue.Queue) -> None:
        while not self._stopping.is_set():
            try:
                batch = [inbox.get(timeout=0.5)]
            except queue.Empty:
                continue
            while len(batch) < self.batch_size:  # whatever else is already waiting
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            worker = threading.current_thread().name
            with self._lock:
                self._in_flight[worker] = [body for body, _ in batch]
            failed = deliver_all(subscription, [body for body, _ in batch])
            with self._lock:
                self._in_flight.pop(worker, None)
            for index, error in failed.items():
                body, attempts = batch[index][0], batch[index][1] + counts_as_attempt(error)
                log.error("handler failed", exc_info=error, extra={"queue": subscription.queue})
                if attempts >= self.max_attempts:
                    self.dead_letters.setdefault(subscription.queue, []).append(json.loads(body))
                else:
                    self._retry_later(inbox, body, attempts)
            for _ in batch:
                inbox.task_done()

    def _retry_later(self, inbox: queue.Queue, body: str, attempts: int) -> None:
        def put_back() -> None:
            with self._lock:
                self._retries.discard(entry)
            inbox.put((body, attempts))

        timer = threading.Timer(retry_delay(max(attempts, 1)), put_back)
        timer.daemon = True
        entry = (timer, body)
        with self._lock:
            self._retries.add(entry)
        timer.start()

    def undelivered(self) -> list[dict]:
        """After :meth:`stop`: the events some subscription has not handled yet (still queued,
        being handled, or waiting for a retry), each once, so that their producers can publish
        them again at the next start (consumers are idempotent; real-time clients drop what
        they have)."""
        bodies: dict[str, None] = {}
        with self._lock:
            retries, self._retries = list(self._retries), set()
            for batch in self._in_flight.values():  # still being handled: maybe not done
                bodies.update(dict.fromkeys(batch))
        for timer, body in retries:
            timer.cancel()
            bodies[body] = None
        for _, inbox in self._subscriptions:
            while True:
                try:
                    bodies[inbox.get_nowait()[0]] = None
                except queue.Empty:
                    break
        envelopes = {}
        for body in bodies:
            envelope = json.loads(body)
            envelopes[envelope["id"]] = envelope
        return list(envelopes.values())

    def replay_dead_letters(self, queue_name: str) -> int:
        """Put a queue's dead letters back on it; returns how many."""
        letters = self.dead_letters.pop(queue_name, [])
        for subscription, inbox in self._subscriptions:
            if subscription.queue == queue_name:
                for envelope in letters:
                    inbox.put((json.dumps(envelope), 0))
        return len(letters)

    def stop(self, drain_seconds: float = 3.0) -> None:
        """Stop the workers once what is queued has been handled (at most ``drain_seconds``).
        What is left (see :meth:`undelivered`) must be given back to its producers' outboxes:
        their rows are already marked published. A process killed outright loses what was
        queued (the embedded mode only)."""
        deadline = time.monotonic() + drain_seconds
        while self._threads and time.monotonic() < deadline and any(
                inbox.unfinished_tasks for _, inbox in self._subscriptions):
            time.sleep(0.02)
        self._stopping.set()
        for thread in self._threads:  # each finishes the batch in hand
            thread.join(timeout=max(0.5, deadline - time.monotonic()))

    def check_consuming(self) -> None:
        """Nothing to wait for: the queues are this process's own memory."""

    def ping(self) -> None:
        """Always reachable: it lives in this process."""
