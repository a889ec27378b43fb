"""The event bus: RabbitMQ in every distributed shape, an in-process bus in the embedded mode.

Both have the same interface and the same semantics: publishing returns once the broker has
the events, delivery is asynchronous and at least once, each subscription is a named queue
that receives the routing keys it binds, a failing handler is retried with back-off and,
after ``max_attempts``, its message goes to a dead-letter queue that ops can inspect and
replay.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .db import is_unavailable
from .topology import DURABLE_QUEUES, durably_consumed

log = logging.getLogger(__name__)

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

    def publish(self, envelopes: list[dict]) -> None: ...
    def subscribe(self, subscription: Subscription) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def ping(self) -> None: ...


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

    def ping(self) -> None:
        """Always reachable: it lives in this process."""


@dataclass
class _Publisher:
    connection: object = None
    channel: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class RabbitBus:
    """RabbitMQ: one topic exchange, routing key = event type, publisher confirms, manual acks."""

    def __init__(
        self,
        url: str,
        exchange: str = "auction.events",
        prefetch: int = 32,
        max_attempts: int = 5,
        batch_wait: float = 0.0,
        topology: dict[str, tuple[str, ...]] | None = None,
    ):
        """``topology``: the durable queues (name -> routing keys) declared before the first
        publish; a publish of a type they bind must reach a queue (``mandatory``)."""
        self.url = url
        self.topology = DURABLE_QUEUES if topology is None else topology
        self.exchange = exchange
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.batch_wait = batch_wait
        self._subscriptions: list[Subscription] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._publisher = _Publisher()
        self.ready = {}

    def _connect(self):
        import pika

        params = pika.URLParameters(self.url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 30
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        return connection, channel

    def ping(self) -> None:
        """Raise unless the broker accepts a connection."""
        connection, _ = self._connect()
        connection.close()

    def declare_topology(self, channel) -> None:
        """Declare every durable queue of the platform, its retry and dead-letter queues and
        its bindings (idempotent), so that nothing is published before they exist."""
        for name, keys in self.topology.items():
            self._declare_durable(channel, name, keys)

    def publish(self, envelopes: list[dict]) -> None:
        """Publish persistently; returns only once the broker has confirmed every message.

        The topology is declared on the publisher's first connection. A message of a type that
        a durable queue consumes is published ``mandatory``: if no queue takes it, the broker
        returns it and this raises (pika's ``UnroutableError``), so the caller never counts it
        as sent."""
        import pika

        with self._publisher.lock:
            for attempt in (1, 2):
                try:
                    if self._publisher.channel is None or self._publisher.channel.is_closed:
                        self._publisher.connection, self._publisher.channel = self._connect()
                        self.declare_topology(self._publisher.channel)
                        self._publisher.channel.confirm_delivery()
                    for envelope in envelopes:
                        self._publisher.channel.basic_publish(
                            self.exchange,
                            envelope["type"],
                            json.dumps(envelope).encode(),
                            pika.BasicProperties(
                                content_type="application/json",
                                delivery_mode=2,
                                message_id=envelope["id"],
                                type=envelope["type"],
                            ),
                            mandatory=durably_consumed(envelope["type"], self.topology),
                        )
                    return
                except Exception:
                    self._close_publisher()
                    if attempt == 2:
                        raise

    def _close_publisher(self) -> None:
        try:
            if self._publisher.connection is not None and self._publisher.connection.is_open:
                self._publisher.connection.close()
        except Exception:
            pass
        self._publisher.connection = self._publisher.channel = None

    def subscribe(self, subscription: Subscription) -> None:
        """Declare the queue when consumption starts; bind it to the subscription's keys."""
        self._subscriptions.append(subscription)
        self.ready[subscription.queue] = threading.Event()
        if self._threads:
            self._start_consumer(subscription)

    def start(self) -> None:
        """One consuming thread (own connection) per subscription, reconnecting on failure."""
        for subscription in self._subscriptions:
            self._start_consumer(subscription)

    def _start_consumer(self, subscription: Subscription) -> None:
        thread = threading.Thread(
            target=self._consume_forever, args=(subscription,), daemon=True,
            name=f"amqp:{subscription.queue}",
        )
        thread.start()
        self._threads.append(thread)

    def declare(self, channel, subscription: Subscription) -> str:
        """Declare a subscription's queue, its retry queue and its dead-letter queue."""
        if not subscription.transient:
            self._declare_durable(channel, subscription.queue, subscription.routing_keys)
            return subscription.queue
        name = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for key in subscription.routing_keys:
            channel.queue_bind(name, self.exchange, routing_key=key)
        return name

    def _declare_durable(self, channel, name: str, routing_keys) -> None:
        channel.queue_declare(name, durable=True)
        channel.queue_declare(
            f"{name}.retry",
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
        )
        channel.queue_declare(f"{name}.dlq", durable=True)
        for key in routing_keys:
            channel.queue_bind(name, self.exchange, routing_key=key)

    def _consume_forever(self, subscription: Subscription) -> None:
        connected_before = False
        while not self._stopping.is_set():
            try:
                connection, channel = self._connect()
                name = self.declare(channel, subscription)
                channel.basic_qos(prefetch_count=self.prefetch)
                arrived: list = []
                channel.basic_consume(
                    name, lambda _ch, *message, into=arrived: into.append(message))
                self.ready[subscription.queue].set()
                if connected_before:
                    log.warning("consumer reconnected", extra={"queue": subscription.queue})
                    if subscription.on_resume is not None:
                        subscription.on_resume()
                connected_before = True
                while not self._stopping.is_set():
                    # Returns once messages are in; a batch consumer waits a moment for more.
                    # They are handled together (up to the prefetch) and acknowledged at once.
                    connection.process_data_events(time_limit=0.5)
                    if arrived and subscription.batch_handler and self.batch_wait:
                        deadline = time.monotonic() + self.batch_wait
                        while len(arrived) < self.prefetch and (
                                left := deadline - time.monotonic()) > 0:
                            connection.process_data_events(time_limit=left)
                    if arrived:
                        batch = arrived[:]
                        arrived.clear()
                        self._deliver(channel, batch, subscription, name)
                connection.close()
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("consumer connection lost; reconnecting",
                              extra={"queue": subscription.queue})
                time.sleep(1.0)

    def _deliver(self, channel, batch: list, subscription: Subscription, name: str) -> None:
        import pika

        failed = deliver_all(subscription, [body for _, _, body in batch])
        for index, exc in failed.items():
            _, props, body = batch[index]
            log.error("handler failed", exc_info=exc, extra={"queue": name})
            if subscription.transient:
                continue
            headers = dict(props.headers or {})
            attempts = int(headers.get("x-attempts", 0)) + counts_as_attempt(exc)
            headers["x-attempts"] = attempts
            headers["x-last-error"] = repr(exc)[:500]
            if attempts >= self.max_attempts:
                target, expiration = f"{name}.dlq", None
            else:
                target, expiration = f"{name}.retry", str(int(retry_delay(max(attempts, 1))
                                                               * 1000))
            channel.basic_publish(
                "",
                target,
                body,
                pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=2,
                    headers=headers,
                    expiration=expiration,
                    message_id=props.message_id,
                    type=props.type,
                ),
            )
        channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)

    def replay_dead_letters(self, queue_name: str) -> int:
        """Move every message of ``<queue>.dlq`` back to ``<queue>``; returns how many."""
        import pika

        connection, channel = self._connect()
        moved = 0
        try:
            while True:
                method, props, body = channel.basic_get(f"{queue_name}.dlq")
                if method is None:
                    return moved
                headers = dict(props.headers or {})
                headers.pop("x-attempts", None)
                channel.basic_publish(
                    "", queue_name, body,
                    pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                         headers=headers, message_id=props.message_id,
                                         type=props.type),
                )
                channel.basic_ack(method.delivery_tag)
                moved += 1
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop consuming and close the publisher's connection."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=3)
        with self._publisher.lock:
            self._close_publisher()


def create_bus(settings) -> EventBus:
    """The bus named by ``EVENT_BUS``."""
    if settings.event_bus == "inprocess":
        return InProcessBus(max_attempts=settings.consumer_max_attempts)
    return RabbitBus(
        settings.amqp_url,
        exchange=settings.event_exchange,
        prefetch=settings.consumer_prefetch,
        max_attempts=settings.consumer_max_attempts,
        batch_wait=settings.consumer_batch_wait_ms / 1000,
    )
