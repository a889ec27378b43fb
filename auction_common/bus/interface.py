"""What every event bus is: the interface a service codes against, what a subscription is,
topic matching, the retry policy and how messages that arrived together are handed over.

Both buses (:mod:`.inprocess` for the embedded mode, :mod:`.rabbitmq` for every distributed
shape) keep the same semantics: publishing returns once the bus has the events, delivery is
asynchronous and at least once, each subscription is a named queue that receives the routing
keys it binds, a failing handler is retried with back-off and, after ``max_attempts``, its
message goes to a dead-letter queue that ops can inspect and replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..db import is_unavailable

Handler = Callable[[dict], None]
#: Handles several events at once; returns, for each, None or the error that event met.
BatchHandler = Callable[[list[dict]], list[Exception | None]]


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` is zero or more words."""

    def match(pattern_words: list[str], key_words: list[str]) -> bool:
        if not pattern_words:
            return not key_words
        head, rest = pattern_words[0], pattern_words[1:]
        if head == "#":
            return any(match(rest, key_words[i:]) for i in range(len(key_words) + 1))
        if not key_words:
            return False
        return (head == "*" or head == key_words[0]) and match(rest, key_words[1:])

    return match(pattern.split("."), routing_key.split("."))


def counts_as_attempt(error: BaseException) -> int:
    """1 when a failed delivery brings its message closer to the dead-letter queue; 0 when the
    database was only unavailable (a restart): that says nothing about the message, which is
    retried, after the first back-off, for as long as the outage lasts."""
    return 0 if is_unavailable(error) else 1


def retry_delay(attempt: int) -> float:
    """Back-off before the ``attempt``-th retry: 0.2 s, 0.4 s, 0.8 s ... capped at 30 s."""
    return min(30.0, 0.2 * (2 ** (attempt - 1)))


@dataclass
class Subscription:
    """A named queue bound to routing keys, feeding one handler."""

    queue: str
    routing_keys: list[str]
    handler: Handler
    #: A private queue that lives as long as the process (real-time fan-out).
    transient: bool = False
    #: Takes the events that arrived together at once (e.g. in one transaction).
    batch_handler: BatchHandler | None = None
    #: Called once the queue is consumed again after a lost broker connection: a transient
    #: queue is new then, and what was published meanwhile did not reach it.
    on_resume: Callable[[], None] | None = None

    def handle(self, envelopes: list[dict]) -> list[Exception | None]:
        """Hand events to the handler (all at once when it can); each one's error or None."""
        if self.batch_handler is not None and len(envelopes) > 1:
            return self.batch_handler(envelopes)
        return handle_each(self.handler, envelopes)


def handle_each(handler: Handler, envelopes: list[dict]) -> list[Exception | None]:
    """Hand events to ``handler`` one at a time; each one's error or None."""
    errors: list[Exception | None] = []
    for envelope in envelopes:
        try:
            handler(envelope)
            errors.append(None)
        except Exception as exc:
            errors.append(exc)
    return errors


def decode_all(bodies: list[bytes | str]) -> tuple[list[tuple[int, dict]], dict[int, Exception]]:
    """(index, envelope) for each body that is JSON, and index -> error for those that are not."""
    decoded, broken = [], {}
    for index, body in enumerate(bodies):
        try:
            decoded.append((index, json.loads(body)))
        except ValueError as exc:
            broken[index] = exc
    return decoded, broken


def deliver_all(subscription: Subscription, bodies: list[bytes | str]) -> dict[int, Exception]:
    """Decode and handle messages that arrived together; index -> error for each that failed."""
    decoded, failed = decode_all(bodies)
    errors = subscription.handle([envelope for _, envelope in decoded])
    for (index, _), error in zip(decoded, errors, strict=True):
        if error is not None:
            failed[index] = error
    return failed


class EventBus(Protocol):
    """What a service needs from the bus."""

    def publish(self, envelopes: list[dict]) -> None:
        """Deliver ``envelopes`` (durably, where the bus is); with none, only make sure the
        bus is connected (the relay does so before it opens its outbox transaction)."""
        ...
    def subscribe(self, subscription: Subscription) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def ping(self) -> None: ...
    def check_consuming(self) -> None:
        """Raise unless every subscription of this process is consuming."""
        ...
    def replay_dead_letters(self, queue_name: str) -> int:
        """Put a queue's dead letters back on it (``python -m <service> replay-dead-letters``);
        returns how many."""
        ...
