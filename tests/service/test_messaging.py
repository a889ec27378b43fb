"""The event plumbing on real RabbitMQ and PostgreSQL: outbox relay, idempotent consumers,
retries and the dead-letter queue."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid

import pika
import pytest

from auction_common.bus import (
    InProcessBus,
    RabbitBus,
    Subscription,
    handle_each,
    topic_matches,
)
from auction_common.consumer import IdempotentConsumer, applies_in_batches, handlers_by_type
from auction_common.db import Database
from auction_common.relay import OutboxRelay
from bidding_service.models import metadata as bidding_metadata
from tests.support.waiting import wait_for


@pytest.fixture
def db(bidding) -> Database:
    """bidding_service's database, without schema validation (these events are made up)."""
    return Database(bidding[1].db.engine, bidding_metadata, "test", schemas=None)


@pytest.fixture
def tap(amqp_url):
    """A private queue on this run's vhost bound to one made-up event type; returns (type, get)."""
    event_type = f"test.t{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.exchange_declare("auction.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "auction.events", routing_key=event_type)

    def received() -> list[dict]:
        messages = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append(json.loads(body))

    yield event_type, received
    connection.close()


def commit_events(db: Database, event_type: str, count: int) -> list[str]:
    with db.unit_of_work() as uow:
        ids = [uow.publish(event_type, {"n": n})["id"] for n in range(count)]
        uow.commit()
    return ids


def test_committed_events_reach_the_broker_in_order_and_are_marked_sent(db, amqp_url, tap):
    event_type, received = tap
    ids = commit_events(db, event_type, 5)
    bus = RabbitBus(amqp_url)
    OutboxRelay(db, bus).drain()
    messages = wait_for(lambda: (got := received()) and got, message="relayed events")
    assert [m["id"] for m in messages] == ids
    assert OutboxRelay(db, bus).drain() == 0, "nothing is left to publish"
    bus.stop()


def test_the_relay_connects_to_the_broker_before_it_locks_any_outbox_row(db, amqp_url, tap):
    """A broker slow to reach (its name took 40 s to resolve under podman) delays the events,
    but never with their outbox rows locked in an open transaction (an idle transaction
    holds back every vacuum and every other relay of the schema meanwhile)."""
    event_type, received = tap
    ids = commit_events(db, event_type, 3)
    free_while_connecting: list[int] = []

    class SlowToReach(RabbitBus):
        def _connect(self):
            with db.engine.begin() as other:
                free_while_connecting.append(len(other.exec_driver_sql(
                    f'SELECT position FROM "{db.schema}".outbox WHERE published_at IS NULL '
                    "FOR UPDATE SKIP LOCKED").all()))
            return super()._connect()

    bus = SlowToReach(amqp_url)
    try:
        assert OutboxRelay(db, bus).drain() >= 3
    finally:
        bus.stop()
    assert free_while_connecting and free_while_connecting[0] >= 3, free_while_connecting
    assert [m["id"] for m in wait_for(received, message="relayed events")] == ids


def test_a_rolled_back_unit_of_work_publishes_nothing(db, amqp_url, tap):
    event_type, received = tap
    with db.unit_of_work() as uow:
        uow.publish(event_type, {"n": 1})
        # no commit: leaving the block rolls back
    bus = RabbitBus(amqp_url)
    OutboxRelay(db, bus).drain()
    bus.stop()
    assert received() == []


def test_a_running_relay_is_woken_by_the_commit(db, amqp_url, tap):
    event_type, received = tap
    bus = RabbitBus(amqp_url)
    stopping = threading.Event()
    relay = threading.Thread(target=OutboxRelay(db, bus, poll_interval=30).run, args=(stopping,))
    relay.start()
    try:
        [event_id] = commit_events(db, event_type, 1)
        # The fallback poll is 30 s away: only NOTIFY can deliver this in time.
        messages = wait_for(received, timeout=10, message="event relayed after NOTIFY")
        assert messages[0]["id"] == event_id
    finally:
        stopping.set()
        relay.join()
        bus.stop()


def test_commits_that_come_while_the_relay_waits_are_published_as_one_batch(db, amqp_url, tap):
    """A commit soon after the relay's last drain is held for the rest of its batch wait, and
    the commits that come meanwhile go out with it: one transaction and one confirmed publish
    for all of them, in commit order."""
    event_type, received = tap
    drains, batches, holds = [], [], []

    class Recording(RabbitBus):
        def publish(self, envelopes):
            if envelopes:
                batches.append([envelope["id"] for envelope in envelopes])
            super().publish(envelopes)

    class Observed(OutboxRelay):
        def drain(self, connection=None) -> int:
            count = super().drain(connection)
            drains.append(count)  # done: what it read is published
            return count

    class Stopping(threading.Event):
        """The relay's stop signal, which it also waits on while it holds a commit."""

        def wait(self, timeout=None):
            if timeout:
                holds.append(timeout)
            return super().wait(timeout)

    bus = Recording(amqp_url)
    stopping = Stopping()
    relay = Observed(db, bus, poll_interval=30, batch_wait=3.0)
    thread = threading.Thread(target=relay.run, args=(stopping,))
    thread.start()
    try:
        wait_for(lambda: drains, message="the relay's first drain, over before any commit")
        ids = commit_events(db, event_type, 1)
        wait_for(lambda: holds, message="the relay holding the commit for its batch wait")
        for _ in range(4):
            ids += commit_events(db, event_type, 1)
        messages: list[dict] = []
        wait_for(lambda: messages.extend(received()) or len(messages) >= 5, timeout=15,
                 message="the five events relayed")
        assert [m["id"] for m in messages] == ids
        assert batches == [ids], "five commits, one batch"
    finally:
        stopping.set()
        thread.join()
        bus.stop()


def test_a_redelivered_event_is_applied_once(bidding):
    db = bidding[1].db
    event_id = str(uuid.uuid4())
    claims = []
    for _ in range(3):
        with db.unit_of_work() as uow:
            claims.append(uow.claim_event("test.consumer", event_id))
            uow.commit()
    assert claims == [True, False, False]


def _envelope(event_type: str, n: int, event_id: str | None = None) -> dict:
    return {"id": event_id or str(uuid.uuid4()), "type": event_type, "version": 1,
            "occurred_at": "2026-01-01T00:00:00Z", "producer": "test", "data": {"n": n}}


def test_events_arriving_together_are_applied_once_each_in_one_transaction(db):
    applied, transactions = [], {}

    def remember(uow, envelope):
        applied.append(envelope["data"]["n"])
        transactions[id(uow)] = uow  # kept alive: a later one cannot reuse its id
        if envelope["data"]["n"] == 3:
            raise ValueError("event 3 cannot be applied")

    consumer = IdempotentConsumer(db, f"test.batch.{uuid.uuid4().hex[:6]}",
                                  {"thing.happened": remember})
    already = _envelope("thing.happened", 0)
    consumer(already)
    twice = _envelope("thing.happened", 2)
    batch = [already, _envelope("thing.happened", 1), twice, twice,
             _envelope("other.thing", 9), _envelope("thing.happened", 4)]
    applied.clear()
    assert consumer.handle_batch(batch) == [None] * 6
    assert applied == [1, 2, 4], "each event once, in order; applied before and unknown: never"
    assert len(transactions) == 2, "the batch was one transaction (the first event another)"

    failing = [_envelope("thing.happened", 5), _envelope("thing.happened", 3),
               _envelope("thing.happened", 6)]
    errors = consumer.handle_batch(failing)
    assert [type(e).__name__ if e else None for e in errors] == [None, "ValueError", None]
    applied.clear()
    again = consumer.handle_batch(failing)  # redelivered: only the failed one is tried again
    assert [type(e).__name__ if e else None for e in again] == [None, "ValueError", None]
    assert set(applied) == {3}, "the good ones were applied the first time, and only then"


def test_two_features_handling_one_event_type_both_run_once_in_one_transaction(db):
    """Maps merged as dicts would keep only the second feature's handler, silently."""
    applied, transactions = [], {}

    def note(name):
        def handle(uow, envelope):
            applied.append((name, envelope["data"]["n"]))
            transactions[id(uow)] = uow  # kept alive: a later one cannot reuse its id
        return handle

    watches = {"thing.ended": note("forget watches"), "thing.watched": note("watch")}
    endings = {"thing.ended": [note("tell the winner"), note("tell the seller")]}
    consumer = IdempotentConsumer(db, f"test.many.{uuid.uuid4().hex[:6]}",
                                  handlers_by_type(endings, watches))
    assert consumer.subscription().routing_keys == ["thing.ended", "thing.watched"]
    ended = _envelope("thing.ended", 1)
    consumer(ended)
    assert applied == [("tell the winner", 1), ("tell the seller", 1), ("forget watches", 1)]
    assert len(transactions) == 1, "every handler's effect and the claim commit together"
    applied.clear()
    assert consumer.handle_batch([ended, _envelope("thing.ended", 2)]) == [None, None]
    assert applied == [("tell the winner", 2), ("tell the seller", 2), ("forget watches", 2)]


def test_a_handler_taking_batches_gets_each_run_of_its_events_in_order_once(db):
    """What arrived together reaches a batch handler as runs of consecutive events of its type,
    so that events of other types keep their place between them; duplicates and events
    already applied are left out; a single event comes as a list of one."""
    applied = []

    @applies_in_batches
    def outbid_all(uow, envelopes):
        applied.append(("outbid", [e["data"]["n"] for e in envelopes]))

    consumer = IdempotentConsumer(db, f"test.runs.{uuid.uuid4().hex[:6]}", {
        "thing.outbid": [outbid_all, lambda uow, e: applied.append(("each", e["data"]["n"]))],
        "thing.named": lambda uow, e: applied.append(("named", e["data"]["n"]))})
    first = _envelope("thing.outbid", 1)
    consumer(first)
    assert applied == [("outbid", [1]), ("each", 1)]
    applied.clear()
    batch = [first, _envelope("thing.outbid", 2), _envelope("thing.outbid", 3),
             _envelope("thing.named", 4), _envelope("thing.outbid", 5)]
    batch.insert(2, batch[1])  # delivered twice in one batch
    assert consumer.handle_batch(batch) == [None] * 6
    assert applied == [("outbid", [2, 3]), ("each", 2), ("each", 3), ("named", 4),
                       ("outbid", [5]), ("each", 5)]


def test_of_several_snapshots_of_one_thing_in_a_batch_only_the_newest_is_applied(db):
    applied = []
    consumer = IdempotentConsumer(
        db, f"test.snap.{uuid.uuid4().hex[:6]}",
        {"price.changed": lambda uow, e: applied.append((e["data"]["thing"], e["data"]["seq"])),
         "thing.noted": lambda uow, e: applied.append(("note", e["data"]["seq"]))},
        snapshots={"price.changed": lambda e: e["data"]["thing"]})

    def event(event_type, thing, seq):
        return {**_envelope(event_type, 0), "data": {"thing": thing, "seq": seq}}

    batch = [event("price.changed", "a", 2), event("thing.noted", "a", 3),
             event("price.changed", "a", 5), event("price.changed", "b", 1),
             event("price.changed", "a", 4)]
    assert consumer.handle_batch(batch) == [None] * 5
    assert applied == [("note", 3), ("a", 5), ("b", 1)], "newest per thing; others as ever"
    applied.clear()
    assert consumer.handle_batch([batch[0], batch[4]]) == [None, None]
    assert applied == [], "the replaced ones were claimed too: redelivery changes nothing"


def test_a_bad_message_among_good_ones_is_retried_alone(amqp_url, db):
    queue, event_type = f"test.mixed.{uuid.uuid4().hex[:8]}", f"test.m{uuid.uuid4().hex[:8]}"
    seen, batches = [], []

    def handle_batch(envelopes):
        batches.append(len(envelopes))
        return handle_each(handle, envelopes)

    def handle(envelope):
        seen.append(envelope["data"]["n"])
        if envelope["data"]["n"] == 7 and seen.count(7) == 1:
            raise ValueError("first attempt at 7 fails")

    bus = RabbitBus(amqp_url, max_attempts=3)
    subscription = Subscription(queue, [event_type], handle, batch_handler=handle_batch)
    bus.declare(bus._connect()[1], subscription)  # messages wait in the queue before we start
    bus.publish([_envelope(event_type, n) for n in range(20)])
    bus.subscribe(subscription)
    bus.start()
    try:
        wait_for(lambda: sorted(seen) == sorted([*range(20), 7]), timeout=20,
                 message="every message handled, 7 twice")
        assert max(batches) > 1, "messages already waiting were handled together"
        assert _depth(amqp_url, f"{queue}.dlq") == 0
    finally:
        bus.stop()


def test_a_failed_message_whose_retry_copy_no_queue_takes_is_not_acknowledged(fresh_vhost):
    """The copy a failed message is republished as (to its retry queue) must be in a queue
    before the original is acknowledged: here the retry queue is gone when the handler fails
    (deleted by hand), the copy reaches no queue, so the original stays; the consumer
    reconnects, declares its queues again, and the message is tried again."""
    queue = f"test.lost.{uuid.uuid4().hex[:8]}"
    event_type = f"test.l{uuid.uuid4().hex[:8]}"
    attempts: list[int] = []

    def handle(envelope):
        attempts.append(envelope["data"]["n"])
        if len(attempts) == 1:
            raise ValueError("the first attempt fails")

    bus = RabbitBus(fresh_vhost, max_attempts=5)
    subscription = Subscription(queue, [event_type], handle)
    bus.subscribe(subscription)
    bus.start()
    try:
        assert bus.ready[queue].wait(10)
        connection = pika.BlockingConnection(pika.URLParameters(fresh_vhost))
        connection.channel().queue_delete(f"{queue}.retry")
        connection.close()
        bus.publish([_envelope(event_type, 1)])
        wait_for(lambda: len(attempts) >= 2, timeout=20,
                 message="the message tried again, not lost with its unroutable retry copy")
        assert attempts[:2] == [1, 1]
    finally:
        bus.stop()


def test_a_poison_message_lands_in_the_dead_letter_queue_and_can_be_replayed(amqp_url):
    queue = f"test.poison.{uuid.uuid4().hex[:8]}"
    event_type = f"test.p{uuid.uuid4().hex[:8]}"
    attempts, handled = [], []
    healthy = threading.Event()

    def handler(envelope):
        attempts.append(envelope["id"])
        if not healthy.is_set():
            raise ValueError("cannot handle this yet")
        handled.append(envelope["id"])

    bus = RabbitBus(amqp_url, max_attempts=3)
    bus.subscribe(Subscription(queue, [event_type], handler))
    bus.start()
    try:
        assert bus.ready[queue].wait(10)
        envelope = {"id": str(uuid.uuid4()), "type": event_type, "version": 1,
                    "occurred_at": "2026-01-01T00:00:00Z", "producer": "test", "data": {}}
        bus.publish([envelope])
        wait_for(lambda: _depth(amqp_url, f"{queue}.dlq") == 1, timeout=20,
                 message="the message in the dead-letter queue")
        assert len(attempts) == 3, "retried with back-off, then dead-lettered"
        healthy.set()
        assert bus.replay_dead_letters(queue) == 1
        wait_for(lambda: handled == [envelope["id"]], timeout=10, message="replayed message")
    finally:
        bus.stop()


def _depth(amqp_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_the_in_process_bus_retries_then_dead_letters():
    bus = InProcessBus(max_attempts=3)
    calls = []

    def flaky(envelope):
        calls.append(envelope["id"])
        if len(calls) < 2:
            raise RuntimeError("first try fails")

    def broken(envelope):
        raise RuntimeError("always fails")

    bus.subscribe(Subscription("flaky", ["thing.happened"], flaky))
    bus.subscribe(Subscription("broken", ["thing.#"], broken))
    bus.start()
    try:
        bus.publish([{"id": "e1", "type": "thing.happened", "data": {}}])
        wait_for(lambda: len(calls) == 2, message="a retry after the first failure")
        wait_for(lambda: bus.dead_letters.get("broken"), message="a dead letter")
    finally:
        bus.stop()


@pytest.mark.parametrize("pattern, key, matches", [
    ("bid.placed", "bid.placed", True),
    ("bid.*", "bid.placed", True),
    ("bid.*", "bid.placed.extra", False),
    ("#", "anything.at.all", True),
    ("auction.#", "auction", True),
    ("*.ended", "auction.ended", True),
    ("bid.placed", "bid.outbid", False),
])
def test_topic_routing_matches_amqp(pattern, key, matches):
    assert topic_matches(pattern, key) is matches


def test_housekeeping_drops_old_published_events_and_keeps_unpublished_ones(db):
    from sqlalchemy import text

    from auction_common.housekeeping import purge_messaging_tables

    old_sent, old_unsent = str(uuid.uuid4()), str(uuid.uuid4())
    with db.engine.begin() as conn:
        for event_id, published in ((old_sent, "now() - interval '2 days'"), (old_unsent, "NULL")):
            conn.execute(text(
                "INSERT INTO bidding.outbox (id, type, payload, created_at, published_at) "
                f"VALUES (:id, 'test.old', '{{}}', now() - interval '3 days', {published})"),
                {"id": event_id})
    purge_messaging_tables(db)
    with db.engine.connect() as conn:
        left = set(conn.execute(text("SELECT CAST(id AS text) FROM bidding.outbox "
                                     "WHERE type = 'test.old'")).scalars())
        conn.execute(text("DELETE FROM bidding.outbox WHERE type = 'test.old'"))
        conn.commit()
    assert left == {old_unsent}


def test_ops_replay_dead_letters_from_the_command_line(amqp_url, settings_for, capsys):
    from auction_common.cli import _replay_dead_letters

    queue = f"test.cli.{uuid.uuid4().hex[:8]}"
    bus = RabbitBus(amqp_url)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    bus.declare(channel, Subscription(queue, ["test.nothing"], lambda e: None))
    channel.basic_publish("", f"{queue}.dlq", b'{"id": "x"}')
    _replay_dead_letters(settings_for("bidding_service"), [queue])
    assert "1 message(s) moved" in capsys.readouterr().out
    assert channel.queue_declare(queue, passive=True).method.message_count == 1
    connection.close()


def test_the_in_process_bus_handles_what_is_queued_before_it_stops():
    bus = InProcessBus()
    gate, handled, at_stop = threading.Event(), [], []

    def held(envelope):
        assert gate.wait(10)
        handled.append(envelope["id"])

    bus.subscribe(Subscription("held", ["thing.happened"], held))
    bus.start()
    bus.publish([{"id": f"e{n}", "type": "thing.happened", "data": {}} for n in range(20)])
    stopper = threading.Thread(target=lambda: (bus.stop(), at_stop.append(len(handled))))
    stopper.start()
    assert at_stop == [], "stop() waits while messages are queued"
    gate.set()
    stopper.join(timeout=10)
    assert at_stop == [20], "everything published was handled before stop() returned"


@pytest.fixture
def fresh_vhost():
    """A vhost of its own, as on a fresh broker: no queue exists yet."""
    from tools import provision

    vhost = f"fresh_{uuid.uuid4().hex[:10]}"
    provision.ensure_rabbitmq_vhost(vhost)
    yield provision.amqp_url(vhost)
    provision.delete_rabbitmq_vhost(vhost)


def test_an_event_relayed_before_its_consumer_ever_started_still_reaches_it(db, fresh_vhost):
    from auction_common.topology import DURABLE_QUEUES

    event_type = f"test.t{uuid.uuid4().hex[:8]}"
    topology = {**DURABLE_QUEUES, "test.late_consumer": (event_type,)}
    [event_id] = commit_events(db, event_type, 1)
    publisher = RabbitBus(fresh_vhost, topology=topology)
    OutboxRelay(db, publisher).drain()  # the consumer has never run: its queue is declared here
    publisher.stop()
    got: list[dict] = []
    consumer = RabbitBus(fresh_vhost, topology=topology)
    consumer.subscribe(Subscription("test.late_consumer", [event_type], got.append))
    consumer.start()
    try:
        wait_for(lambda: got, message="the event published before the consumer existed")
        assert [e["id"] for e in got] == [event_id]
    finally:
        consumer.stop()


def test_a_publish_that_reaches_no_queue_is_not_counted_as_sent(db, fresh_vhost):
    """Its queue deleted under a running publisher: the broker returns the message, the
    publisher declares the topology again and publishes it once more; it is marked sent only
    once a queue holds it."""
    event_type = f"test.t{uuid.uuid4().hex[:8]}"
    topology = {"test.deleted": (event_type,)}
    publisher = RabbitBus(fresh_vhost, topology=topology)
    publisher.publish([])  # connects and declares
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost)) as admin:
        admin.channel().queue_delete("test.deleted")
    with pytest.raises(pika.exceptions.UnroutableError):
        # What the old publisher did silently: confirmed, yet nowhere.
        publisher._publisher.channel.publish("auction.events", [(event_type, b"{}", None, True)])
    [event_id] = commit_events(db, event_type, 1)
    OutboxRelay(db, publisher).drain()
    publisher.stop()
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost)) as admin:
        method, _, body = admin.channel().basic_get("test.deleted", auto_ack=True)
    assert method is not None and json.loads(body)["id"] == event_id


def test_what_the_in_process_bus_could_not_deliver_before_stopping_is_published_again(db):
    from auction_common.runtime import Background

    bus = InProcessBus()
    gate, handled = threading.Event(), []

    def slow(envelope):
        gate.wait(0.5)  # each event takes longer than the stop allows for all of them
        handled.append(envelope["id"])

    event_type = f"test.t{uuid.uuid4().hex[:8]}"
    background = Background(bus)
    background.relays.append(relay := OutboxRelay(db, bus))
    bus.subscribe(Subscription("slow", [event_type], slow))
    bus.start()
    ids = commit_events(db, event_type, 12)
    relay.drain()  # published: the outbox rows are marked sent
    bus.stop(drain_seconds=1.0)
    kept = [e["id"] for e in bus.undelivered()]
    assert kept and set(kept) | set(handled) == set(ids)
    assert relay.unpublish(kept) == len(kept)

    again = InProcessBus()
    received = []
    again.subscribe(Subscription("slow", [event_type], lambda e: received.append(e["id"])))
    again.start()
    try:
        OutboxRelay(db, again).drain()
        wait_for(lambda: set(received) == set(kept), message="the kept events, at the next start")
    finally:
        again.stop()


def test_events_a_killed_process_held_in_memory_reach_every_consumer_at_the_next_start(db):
    from auction_common.runtime import Background, ServiceParts

    event_type, applied = f"test.t{uuid.uuid4().hex[:8]}", {"a": [], "b": []}

    def consumer(name: str) -> IdempotentConsumer:
        return IdempotentConsumer(db, f"test.{name}.{event_type}", {
            event_type: lambda uow, envelope: applied[name].append(envelope["id"])})

    ids = commit_events(db, event_type, 5)
    killed = InProcessBus()  # the bus of a process killed outright: it never delivered
    for name in ("a", "b"):
        killed.subscribe(consumer(name).subscription())
    OutboxRelay(db, killed).drain()
    # "a" had applied the first one before the kill; "b" none
    consumer("a")(next(e for e in killed.undelivered() if e["id"] == ids[0]))
    assert applied == {"a": [ids[0]], "b": []}

    background = Background(InProcessBus())
    background.add_service(ServiceParts(name="test", db=db,
                                        consumers=[consumer("a"), consumer("b")]))
    background.start()
    try:
        wait_for(lambda: sorted(applied["a"]) == sorted(ids) == sorted(applied["b"]),
                 message="every event applied by each consumer, once")
        assert background.publish_again_what_was_not_applied() == 0, "nothing is missing now"
    finally:
        background.stop()
    assert sorted(applied["a"]) == sorted(ids), "none applied twice"


def test_a_database_outage_does_not_bring_a_message_closer_to_the_dead_letter_queue():
    from sqlalchemy.exc import OperationalError

    from auction_common.bus import counts_as_attempt

    outage = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert counts_as_attempt(outage) == 0
    assert counts_as_attempt(ValueError("a poison message")) == 1

    bus = InProcessBus(max_attempts=2)
    tries = []

    def database_down_three_times(envelope):
        tries.append(envelope["id"])
        if len(tries) <= 3:
            raise outage

    bus.subscribe(Subscription("patient", ["thing.happened"], database_down_three_times))
    bus.start()
    try:
        bus.publish([{"id": "e1", "type": "thing.happened", "data": {}}])
        wait_for(lambda: len(tries) == 4, timeout=15, message="applied once the database is back")
        assert not bus.dead_letters
    finally:
        bus.stop()


def test_a_published_batch_is_in_its_queue_on_return_and_one_lost_message_fails_it(fresh_vhost):
    """The relay's batch is confirmed as a whole: once ``publish`` returns, every message is
    in its queue; if one message of a batch reaches no queue, the whole publish fails (so the
    relay marks none of it sent)."""
    placed, outbid = f"test.p{uuid.uuid4().hex[:8]}", f"test.o{uuid.uuid4().hex[:8]}"
    publisher = RabbitBus(fresh_vhost, topology={"test.batch": (placed, outbid)})
    try:
        publisher.publish([_envelope(kind, n) for n in range(30) for kind in (placed, outbid)])
        assert _depth(fresh_vhost, "test.batch") == 60, "all there, without waiting"
        with pika.BlockingConnection(pika.URLParameters(fresh_vhost)) as admin:
            admin.channel().queue_unbind("test.batch", "auction.events", routing_key=outbid)
        with pytest.raises(pika.exceptions.UnroutableError) as raised:
            publisher._publisher.channel.publish("auction.events", [
                (placed, b"{}", None, True), (outbid, b"{}", None, True),
                (placed, b"{}", None, True)])
        assert [m.method.routing_key for m in raised.value.messages] == [outbid]
    finally:
        publisher.stop()


@contextlib.contextmanager
def _listening(amqp_url: str, queue: str):
    """(event type, events heard, publisher): a transient subscription to a made-up type,
    consuming, and a bus to publish with; both stopped afterwards."""
    event_type = f"{queue}{uuid.uuid4().hex[:8]}"
    got: list[dict] = []
    listener, publisher = RabbitBus(amqp_url), RabbitBus(amqp_url)
    listener.subscribe(Subscription(queue, [event_type], got.append, transient=True))
    listener.start()
    try:
        assert listener.ready[queue].wait(10)
        yield event_type, got, publisher
    finally:
        listener.stop()
        publisher.stop()


def test_a_transient_subscription_receives_in_order_what_is_published_while_it_listens(
        amqp_url):
    with _listening(amqp_url, "test.live") as (event_type, got, publisher):
        for start in range(0, 200, 50):  # more than the prefetch, in several batches
            publisher.publish([_envelope(event_type, n) for n in range(start, start + 50)])
        wait_for(lambda: len(got) >= 200, message="every event, live")
        assert [e["data"]["n"] for e in got] == list(range(200))


def test_a_process_is_ready_only_while_its_queues_are_consumed(tmp_path):
    """What the real-time server's /readyz asks: a watcher sent to it before its private
    queue is bound, or while the broker is away, would miss events without being told."""
    from tests.support.faults import PrivateRabbit

    rabbit = PrivateRabbit(tmp_path / "rabbitmq")
    rabbit.start()
    bus = RabbitBus(rabbit.url)
    bus.subscribe(Subscription("test.ready", ["test.ready"], lambda _e: None, transient=True))
    try:
        with pytest.raises(ConnectionError, match="test.ready"):
            bus.check_consuming()  # subscribed, not started
        bus.start()
        wait_for(lambda: _consuming(bus), message="consuming once started")
        rabbit.stop()
        wait_for(lambda: not _consuming(bus), timeout=60, message="not ready without a broker")
        rabbit.start()
        wait_for(lambda: _consuming(bus), timeout=60, message="ready again once it is back")
    finally:
        bus.stop()
        rabbit.stop()


def _consuming(bus) -> bool:
    try:
        bus.check_consuming()
    except ConnectionError:
        return False
    return True


def test_a_running_relay_publishes_again_once_its_broker_is_back(db, tmp_path):
    """Committed while RabbitMQ is down, kept in the outbox, published once it restarted, on
    the relay's next try (its broken connection replaced); what it had published survived."""
    from tests.support.faults import PrivateRabbit

    event_type = f"test.r{uuid.uuid4().hex[:8]}"
    rabbit = PrivateRabbit(tmp_path / "rabbitmq")
    rabbit.start()
    bus = RabbitBus(rabbit.url, topology={"test.restart": (event_type,)})
    stopping = threading.Event()
    relay = threading.Thread(target=OutboxRelay(db, bus, poll_interval=0.2).run,
                             args=(stopping,))
    relay.start()
    try:
        commit_events(db, event_type, 3)
        wait_for(lambda: rabbit.queue_depths(["test.restart"])["test.restart"] == 3,
                 message="published before the outage")
        rabbit.stop()
        commit_events(db, event_type, 4)
        rabbit.start()
        wait_for(lambda: rabbit.queue_depths(["test.restart"])["test.restart"] == 7,
                 timeout=30, message="the outage's events, published after it")
    finally:
        stopping.set()
        relay.join()
        bus.stop()
        rabbit.stop()


class _CountingSocket:
    """The publisher's real socket, counting its ``send`` calls."""

    def __init__(self, sock):
        self.sock, self.sends = sock, 0

    def send(self, data):
        self.sends += 1
        return self.sock.send(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def test_a_batch_of_events_goes_to_the_broker_in_one_write(amqp_url):
    """pika writes each frame on its own (three per message); the publisher joins what a
    batch left in the write buffer, so that the broker gets it in one piece."""
    with _listening(amqp_url, "test.joined") as (event_type, got, publisher):
        publisher.publish([])  # connected, topology declared
        transport = publisher._publisher.connection._impl._transport
        counting = transport._sock = _CountingSocket(transport._sock)
        publisher.publish([_envelope(event_type, n) for n in range(40)])
        assert counting.sends == 1
        wait_for(lambda: len(got) >= 40, message="every event")
        assert [e["data"]["n"] for e in got] == list(range(40))
