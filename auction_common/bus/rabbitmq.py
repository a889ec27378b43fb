"""The RabbitMQ bus of every distributed shape: one topic exchange (routing key = event type),
the durable topology declared before the first publish, publisher confirms, manual acks, retry
queues with per-message expiry and a dead-letter queue per durable queue.

The only module of the package that imports pika, so the in-process bus and the interface
stay free of it."""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import dataclass, field

import pika
from pika.adapters.blocking_connection import ReturnedMessage

from ..topology import DURABLE_QUEUES, durably_consumed
from .interface import Subscription, counts_as_attempt, deliver_all, retry_delay

log = logging.getLogger(__name__)


class _ConfirmedChannel:
    """A channel that publishes a batch, then waits once for the broker's confirms of all of it.

    pika's ``BlockingChannel`` in confirm mode waits for each message's confirm before sending
    the next: a round trip per message, and as many waits for the broker to write its queues
    to disk (classic queues confirm a persistent message once it is on disk), which cost the
    broker more CPU than the messages themselves. So the batch goes out through pika's
    asynchronous channel underneath (``_impl``: the one ``BlockingChannel.basic_publish`` itself
    calls), the confirms are counted by delivery tag (they may come out of order: each queue
    confirms on its own), and the blocking connection's I/O runs until none is missing."""

    def __init__(self, channel):
        self._blocking = channel
        self._async = channel._impl
        self._sent = 0  # delivery tags count the channel's publishes from 1
        self._unconfirmed: set[int] = set()
        self._nacked: list[int] = []
        self._returned: list[ReturnedMessage] = []
        selected: list = []
        self._async.confirm_delivery(ack_nack_callback=self._on_confirm,
                                     callback=selected.append)
        self._async.add_on_return_callback(self._on_return)
        self._blocking._flush_output(lambda: bool(selected))

    @property
    def is_closed(self) -> bool:
        """Whether the channel (or its connection) was closed."""
        return self._blocking.is_closed

    def publish(self, exchange: str, messages: list[tuple[str, bytes, object, bool]]) -> None:
        """Publish ``(routing key, body, properties, mandatory)`` messages; return once the
        broker confirmed them all. Raises ``NackError`` if it refused one and
        ``UnroutableError`` if it returned one (a ``mandatory`` message that reached no queue:
        the broker sends the return before that message's confirm)."""
        self._nacked.clear()
        self._returned.clear()
        for routing_key, body, properties, mandatory in messages:
            self._async.basic_publish(exchange, routing_key, body, properties, mandatory)
            self._sent += 1
            self._unconfirmed.add(self._sent)
        self._join_pending_writes()
        self._blocking._flush_output(lambda: not self._unconfirmed)
        if self._nacked:
            raise pika.exceptions.NackError(self._returned)
        if self._returned:
            raise pika.exceptions.UnroutableError(self._returned)

    def _join_pending_writes(self) -> None:
        """Make what the batch left in the transport's write buffer one piece, so that it goes
        out in one ``send`` instead of one per frame: pika buffers each frame apart (three per
        message: the method, the header, the body) and sends each with a system call of its own,
        which the broker then reads and wakes up for one by one. Left as it is if pika's
        transport does not look as expected."""
        transport = getattr(self._async.connection, "_transport", None)
        pending = getattr(transport, "_tx_buffers", None)
        if isinstance(pending, collections.deque) and len(pending) > 1:
            joined = b"".join(pending)
            pending.clear()
            pending.append(joined)

    def _on_confirm(self, frame) -> None:
        confirm = frame.method
        if confirm.multiple:
            confirmed = {tag for tag in self._unconfirmed if tag <= confirm.delivery_tag}
        else:
            confirmed = {confirm.delivery_tag}
        self._unconfirmed -= confirmed
        if isinstance(confirm, pika.spec.Basic.Nack):
            self._nacked.extend(confirmed)

    def _on_return(self, _channel, method, properties, body) -> None:
        self._returned.append(ReturnedMessage(method, properties, body))


@dataclass
class _Publisher:
    connection: object = None
    channel: _ConfirmedChannel | None = None
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

    def check_consuming(self) -> None:
        """Raise unless every subscription of this process is consuming right now (a queue
        bound and a consumer on it): a readiness check, for a process that must not be sent
        users before its events reach it."""
        idle = [queue for queue, consuming in self.ready.items() if not consuming.is_set()]
        if idle:
            raise ConnectionError(f"not consuming yet: {', '.join(sorted(idle))}")

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
        messages = [
            (envelope["type"], json.dumps(envelope).encode(),
             pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                  message_id=envelope["id"], type=envelope["type"]),
             durably_consumed(envelope["type"], self.topology))
            for envelope in envelopes]
        with self._publisher.lock:
            for attempt in (1, 2):
                try:
                    if self._publisher.channel is None or self._publisher.channel.is_closed:
                        self._publisher.connection, channel = self._connect()
                        self.declare_topology(channel)
                        self._publisher.channel = _ConfirmedChannel(channel)
                    if messages:
                        self._publisher.channel.publish(self.exchange, messages)
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
            connection = None
            try:
                connection, channel = self._connect()
                name = self.declare(channel, subscription)
                if not subscription.transient:
                    # A failed message is published to its retry (or dead-letter) queue, and
                    # only acknowledged once the broker confirmed that copy: without confirms
                    # a copy the broker lost (or could not route) went with the original.
                    channel.confirm_delivery()
                channel.basic_qos(prefetch_count=self.prefetch)
                arrived: list = []
                # A transient queue's messages are never retried: acknowledging them would
                # only make the broker track and settle each one. Without acks it hands them
                # over and forgets them; were the process to die, the queue would go with it.
                channel.basic_consume(
                    name, lambda _ch, *message, into=arrived: into.append(message),
                    auto_ack=subscription.transient)
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
                self.ready[subscription.queue].clear()
                # A connection still open (the failure was ours, not the network's) would go on
                # holding its unacknowledged messages: closed, the broker hands them out again.
                try:
                    if connection is not None and connection.is_open:
                        connection.close()
                except Exception:
                    pass
                if self._stopping.is_set():
                    return
                log.exception("consumer connection lost; reconnecting",
                              extra={"queue": subscription.queue})
                time.sleep(1.0)

    def _deliver(self, channel, batch: list, subscription: Subscription, name: str) -> None:
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
            # Confirmed (the channel is in confirm mode) and ``mandatory``: a copy that no
            # queue took raises, nothing is acknowledged, and the batch comes back after the
            # consumer reconnected (and declared its queues again).
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
                mandatory=True,
            )
        if not subscription.transient:
            channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)

    def replay_dead_letters(self, queue_name: str) -> int:
        """Move every message of ``<queue>.dlq`` back to ``<queue>``; returns how many."""
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
