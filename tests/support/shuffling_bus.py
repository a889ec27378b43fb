"""A test bus that delivers events the way a busy broker may: out of order, more than once,
late, to competing consumers at the same time.

It is a fake of the broker's *delivery order* only (named as such): publish/subscribe have the
interface of ``auction_common.bus``, and what it hands each subscription goes through the
subscription's real handlers (the services' ``IdempotentConsumer``s on PostgreSQL). Each queue
keeps its pending events; :meth:`deliver` shuffles them, duplicates some, holds some back for a
later round, and hands them in random batches to two competing consumers running at once; a
handler that fails gets its event back later, like the retry queue.
"""

from __future__ import annotations

import json
import random
import threading

from auction_common.bus import Subscription, topic_matches


class ShufflingBus:
    """Every subscription is a queue with two competing consumers; delivery order is random."""

    def __init__(self, rng: random.Random, duplicate: float = 0.3, hold_back: float = 0.3,
                 max_attempts: int = 20):
        self.rng = rng
        self.duplicate = duplicate
        self.hold_back = hold_back
        self.max_attempts = max_attempts
        self.queues: dict[str, tuple[Subscription, list[tuple[str, int]]]] = {}
        self.delivered = 0

    # --- the EventBus interface ---------------------------------------------------------------

    def subscribe(self, subscription: Subscription) -> None:
        """A queue for the subscription (two competing consumers will share it)."""
        self.queues[subscription.queue] = (subscription, [])

    def publish(self, envelopes: list[dict]) -> None:
        """Queue each event on every subscription binding its type."""
        for envelope in envelopes:
            body = json.dumps(envelope)
            for subscription, pending in self.queues.values():
                if any(topic_matches(k, envelope["type"]) for k in subscription.routing_keys):
                    pending.append((body, 0))

    def start(self) -> None:
        """Nothing runs by itself: :meth:`deliver` does the work."""

    def stop(self) -> None:
        """Nothing to stop."""

    def ping(self) -> None:
        """Always reachable."""

    # --- delivery ----------------------------------------------------------------------------

    def pending(self) -> int:
        """How many deliveries are waiting."""
        return sum(len(pending) for _, pending in self.queues.values())

    def deliver(self, hold_back: bool = True) -> None:
        """One round: each queue's pending events, shuffled, some twice, some held back (unless
        ``hold_back`` is False), handed in random batches to two consumers running at once."""
        for subscription, pending in self.queues.values():
            batch, kept = [], []
            for item in pending:
                if hold_back and self.rng.random() < self.hold_back:
                    kept.append(item)
                else:
                    batch.append(item)
                    if self.rng.random() < self.duplicate:
                        batch.append(item)
            self.rng.shuffle(batch)
            pending[:] = kept
            pending.extend(self._compete(subscription, batch))

    def _compete(self, subscription: Subscription,
                 batch: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Two consumers take alternate events of ``batch`` at once, in random-size batches;
        returns what failed (to be retried)."""
        retry: list[tuple[str, int]] = []
        failures: list[BaseException] = []
        lock = threading.Lock()

        def consume(items: list[tuple[str, int]], size: int) -> None:
            try:
                for start in range(0, len(items), size):
                    chunk = items[start:start + size]
                    errors = subscription.handle([json.loads(body) for body, _ in chunk])
                    for (body, attempts), error in zip(chunk, errors, strict=True):
                        if error is None:
                            continue
                        if attempts + 1 >= self.max_attempts:
                            raise AssertionError(f"an event keeps failing: {error!r}")
                        with lock:
                            retry.append((body, attempts + 1))
                with lock:
                    self.delivered += len(items)
            except BaseException as exc:  # reported in the caller's thread
                failures.append(exc)

        threads = [threading.Thread(target=consume, args=(half, self.rng.randint(1, 5)))
                   for half in (batch[0::2], batch[1::2])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        if failures:
            raise failures[0]
        return retry
