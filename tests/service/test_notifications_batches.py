"""Outbid notices applied a run at a time (as the consumer hands over the events that arrived
together) say and send exactly what the same events applied one by one would."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, text

from auction_common.events import make_envelope
from notification_service.consumers import notification_consumer
from tests.support.outbox import events_about

PUBLIC_URL = "http://auctions.test"


@pytest.fixture(scope="module")
def db(notifications):
    return notifications[1].db


class War:
    """A bidding war between ``bidders`` over ``auctions``, each side named by its index, so
    that the same war can be fought twice with different ids."""

    def __init__(self, bidders: int = 3, auctions: int = 3):
        self.users = [str(uuid.uuid4()) for _ in range(bidders)]
        self.auctions = [str(uuid.uuid4()) for _ in range(auctions)]

    def outbid(self, bidder: int, auction: int, seq: int) -> dict:
        price = 1000 + 100 * seq
        return make_envelope("bid.outbid", {
            "auction_id": self.auctions[auction], "seq": seq, "user_id": self.users[bidder],
            "title": f"Lot {auction}", "currency": "EUR", "current_price": price,
            "min_next_bid": price + 50, "ends_at": "2030-01-01T00:00:00Z",
        }, producer="bidding_service")

    def named(self, value) -> str:
        """``value`` with this war's ids replaced by their sides' indexes."""
        value = str(value)
        for n, user_id in enumerate(self.users):
            value = value.replace(user_id, f"bidder{n}")
        for n, auction_id in enumerate(self.auctions):
            value = value.replace(auction_id, f"auction{n}")
        return value

    def outcome(self, db) -> dict:
        """What the bidders were told: their notices (oldest first, read or not), emails and
        ``notification.created`` events, with the ids replaced by indexes."""
        with db.engine.connect() as conn:
            notices = conn.execute(text(
                "SELECT user_id, title, body, data, read_at IS NOT NULL FROM "
                "notifications.notifications WHERE user_id = ANY(CAST(:u AS uuid[])) "
                "ORDER BY created_at, id"), {"u": self.users}).all()
            emails = conn.execute(text(
                "SELECT d.user_id, d.subject, d.text_body, d.html_body, n.data "
                "FROM notifications.email_deliveries d JOIN notifications.notifications n "
                "ON n.id = d.notification_id WHERE d.user_id = ANY(CAST(:u AS uuid[]))"),
                {"u": self.users}).all()
        announced = [(e["data"]["user_id"], e["data"]["title"], e["data"]["body"],
                      e["data"]["data"]) for user_id in self.users
                     for e in events_about(db, "user_id", user_id, "notification.created")]
        return {"notices": [self.named(row) for row in notices],
                "emails": sorted(self.named(row) for row in emails),
                "announced": [self.named(row) for row in announced]}

    def read_everything(self, db, bidder: int) -> None:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE notifications.notifications SET read_at = now() "
                              "WHERE user_id = :u"), {"u": self.users[bidder]})

    def no_outbid_emails_for(self, db, bidder: int) -> None:
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO notifications.email_preferences "
                              "(user_id, kind, email) VALUES (:u, 'outbid', false)"),
                         {"u": self.users[bidder]})


def fight(war: War, db, consumer, script: list[tuple[int, int, int]],
          together: bool) -> None:
    """Earlier outbids one by one, bidder 0 reading everything, then the ``script``'s
    (bidder, auction, seq), delivered twice where the seq is repeated, one by one or as one
    batch."""
    war.no_outbid_emails_for(db, 2)
    for bidder, auction, seq in ((0, 0, 1), (0, 1, 2), (1, 0, 3), (2, 2, 1)):
        consumer(war.outbid(bidder, auction, seq))
    war.read_everything(db, 0)
    events, sent = [], {}
    for bidder, auction, seq in script:
        key = (bidder, auction, seq)
        sent.setdefault(key, war.outbid(*key))
        events.append(sent[key])  # the same event again: a redelivery
    if together:
        assert consumer.handle_batch(events) == [None] * len(events)
    else:
        for envelope in events:
            consumer(envelope)


def scripts(seed: int) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    return [(rng.randrange(3), rng.randrange(3), rng.randrange(1, 12)) for _ in range(24)]


@pytest.mark.parametrize("quiet_seconds", [600, 0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_of_outbids_tells_each_bidder_what_one_by_one_would(db, quiet_seconds, seed):
    """Notices brought up to date or made, only by newer seqs, one email per new notice (none
    for the bidder who turned them off), the same notification.created events: for a run with
    duplicates, late older events, several pairs of bidder and auction, a notice already read
    and notices already there."""
    script = scripts(seed)
    apart, together = War(), War()
    fight(apart, db, notification_consumer(db, PUBLIC_URL, quiet_seconds), script, False)
    fight(together, db, notification_consumer(db, PUBLIC_URL, quiet_seconds), script, True)
    assert together.outcome(db) == apart.outcome(db)
    assert together.outcome(db)["emails"], "the run made new notices and emailed them"


def test_a_run_of_outbids_is_applied_in_a_few_statements_whatever_its_length(db):
    """A worker keeping up with a bidding war spread over many auctions: the statements per
    run do not grow with the run."""
    war = War(bidders=16, auctions=64)
    consumer = notification_consumer(db, PUBLIC_URL, 600)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for run in range(3):  # new notices; the same brought up to date; half and half
            batch = [war.outbid(n % 16, n + 32 * (run == 2 and n % 2), 10 * run + n % 5)
                     for n in range(32)]
            statements.clear()
            assert consumer.handle_batch(batch) == [None] * 32
            assert len(statements) <= 12, statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_two_workers_with_runs_of_the_same_war_send_one_email_per_bidder_and_auction(
        db, caplog):
    """Runs about the same bidders and auctions, in opposite orders, wait for each other
    (no deadlock: every run takes its decision locks in one order) and together make one
    notice per bidder and auction, with the newest price, and one email."""
    war = War(bidders=4, auctions=4)
    workers = [notification_consumer(db, PUBLIC_URL, 600) for _ in range(2)]
    runs = [[war.outbid(b, a, seq) for seq in seqs for b in range(4) for a in range(4)]
            for seqs in ((1, 3, 5), (6, 4, 2))]
    runs[1].reverse()
    for first in range(0, 48, 16):
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(
                lambda n, first=first: workers[n].handle_batch(runs[n][first:first + 16]),
                range(2)))
        assert answers == [[None] * 16, [None] * 16]
    assert "applying them one by one" not in caplog.text, "a run failed (a deadlock?)"
    with db.engine.connect() as conn:
        notices = conn.execute(text(
            "SELECT user_id, data->>'auction_id', CAST(data->>'seq' AS int), "
            "(SELECT count(*) FROM notifications.email_deliveries d "
            " WHERE d.notification_id = n.id) FROM notifications.notifications n "
            "WHERE user_id = ANY(CAST(:u AS uuid[]))"), {"u": war.users}).all()
    assert len(notices) == 16
    assert {(seq, emails) for _, _, seq, emails in notices} == {(6, 1)}
