"""Every copy converges on its owner's truth, whatever the order events arrive in.

Random scenarios (listings created, edited, withdrawn; bids; Buy It Now; anti-sniping
extensions; closing; suspensions) run through the four real services on PostgreSQL, in a
database of their own. Their events travel on a shuffling test bus
(``tests/support/shuffling_bus.py``): out of order, duplicated, held back, to two competing
consumers per queue. Once quiet: the catalog's copy equals bidding's (status, outcome, price,
Buy It Now, count, winner, terms), the user replicas equal user_service's accounts, and every
notice was sent exactly once, none for a bid that does not stand.
"""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from auction_common.relay import OutboxRelay
from auction_common.runtime import Background
from auction_service.bidding import BiddingGate, wsgi_transport
from bidding_service.handlers import close_due_auctions
from tests.support.shuffling_bus import ShufflingBus
from tools import provision
from tools.services import SERVICES

SPECS = {spec.package: spec for spec in SERVICES}
PASSWORD = "correct horse 42"


class Platform:
    """The four services on one database of their own; the bus is swapped per example."""

    def __init__(self, urls: dict, keypair, media_root):
        private_key, public_key = keypair
        self.apps, self.parts = {}, {}
        # bidding first: the catalog asks it about sellers' changes
        order = sorted(SPECS, key=lambda package: package != "bidding_service")
        for package in order:
            spec = SPECS[package]
            values = dict(database_url=urls[package], event_bus="inprocess",
                          jwt_public_key_file=public_key, log_json=False, db_pool_size=10)
            if package == "user_service":
                values.update(jwt_private_key_file=private_key,
                              rate_limit_per_ip="100000/minute")
            if package == "auction_service":
                values["media_root"] = media_root
            if package == "notification_service":
                values["outbid_quiet_seconds"] = 0  # every outbid is a notice of its own
            settings_ = spec.settings_type()(**values)
            module = spec.module("app")
            self.parts[package] = module.build_parts(settings_)
            wiring = {}
            if package == "auction_service":
                wiring["bidding"] = BiddingGate(wsgi_transport(self.apps["bidding_service"]))
            self.apps[package] = module.create_app(settings_, self.parts[package], **wiring)
        self.users = self.apps["user_service"].test_client()
        self.catalog = self.apps["auction_service"].test_client()
        self.bidding = self.apps["bidding_service"].test_client()

    def db(self, package: str):
        return self.parts[package].db

    def wire(self, bus: ShufflingBus) -> list[OutboxRelay]:
        """Subscribe every consumer to ``bus``; the relays that feed it."""
        background = Background(bus)
        for parts in self.parts.values():
            background.add_service(parts)
        return background.relays

    def account(self, name: str) -> dict:
        email = f"{name}.{uuid.uuid4().hex[:8]}@example.com"
        answer = self.users.post("/api/auth/register", json={
            "email": email, "password": PASSWORD, "display_name": name})
        assert answer.status_code == 201, answer.get_json()
        return self.login(email, answer.get_json()["id"], name)

    def login(self, email: str, user_id: str, name: str) -> dict:
        tokens = self.users.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.get_json()
        return {"id": user_id, "name": name, "email": email, "headers": {
            "Authorization": f"Bearer {tokens.get_json()['access_token']}"}}

    def query(self, package: str, sql: str, **params):
        with self.db(package).engine.connect() as conn:
            return conn.execute(text(sql), params).all()


@pytest.fixture(scope="module")
def platform(postgres_admin_url, keypair, tmp_path_factory):
    from auction_common.migrations import upgrade
    from user_service.handlers import create_admin

    name = f"converge_{uuid.uuid4().hex[:10]}"
    provision.ensure_database(postgres_admin_url, name)
    urls = provision.service_urls(postgres_admin_url, name)
    for spec in SERVICES:
        upgrade(spec.directory, urls[spec.package])
    shop = Platform(urls, keypair, tmp_path_factory.mktemp("media"))
    email = f"admin.{uuid.uuid4().hex[:8]}@example.com"
    admin, _ = create_admin(shop.db("user_service"),
                            shop.apps["user_service"].extensions["passwords"],
                            email, PASSWORD, "admin", 8)
    shop.admin = shop.login(email, admin["id"], "admin")
    shop.seller = shop.account("seller")
    shop.bidders = [shop.account(name) for name in ("ann", "bob", "cat")]
    yield shop
    for parts in shop.parts.values():
        parts.db.engine.dispose()
    provision.drop_database(postgres_admin_url, name)


listing_ops = st.tuples(st.just("list"), st.sampled_from([None, 1500, 4000]),
                        st.sampled_from([None, 6000]), st.sampled_from([0, 3600]))
ops = st.one_of(
    listing_ops,
    st.tuples(st.just("edit"), st.integers(0, 5),
              st.sampled_from(["reserve_price", "buy_now_price", "starting_price"]),
              st.sampled_from([900, 2500, 7000])),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("bid"), st.integers(0, 2), st.integers(0, 5),
              st.integers(1000, 8000)),
    st.tuples(st.just("buy"), st.integers(0, 2), st.integers(0, 5)),
    st.tuples(st.just("close"), st.integers(0, 5)),
    st.tuples(st.just("suspend"), st.integers(0, 2)),
    st.tuples(st.just("unsuspend"), st.integers(0, 2)),
    st.tuples(st.just("deliver")),
)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=st.lists(ops, min_size=4, max_size=22), seed=st.integers(0, 2**32 - 1))
def test_every_copy_converges_on_its_owners_truth_whatever_the_order(platform, scenario, seed):
    bus = ShufflingBus(random.Random(seed))
    relays = platform.wire(bus)

    def deliver():
        for relay in relays:
            relay.drain()
        bus.deliver()

    listings, accepted_bids = play(platform, scenario, deliver)
    quiesce(bus, relays)
    every_listing_agrees(platform, listings)
    every_bid_stands(platform, accepted_bids)
    every_replica_agrees(platform)
    every_notice_once(platform, listings)


def play(platform, scenario, deliver) -> tuple[list[str], list[str]]:
    """Run the operations through the services' APIs (``deliver`` moves events along);
    returns the listings made and the bids answered 201."""
    listings: list[str] = []
    accepted_bids: list[str] = []
    for user in platform.bidders:  # earlier examples may have left someone suspended
        status(platform, user, "active")

    for op in scenario:
        kind = op[0]
        if kind == "list":
            _, reserve, buy_now, window = op
            body = {"title": "Brass lamp", "category": "home", "currency": "EUR",
                    "starting_price": 1000, "duration_seconds": 600,
                    "reserve_price": reserve, "buy_now_price": buy_now,
                    "anti_sniping_seconds": window}
            answer = platform.catalog.post("/api/auctions", json=body,
                                           headers=platform.seller["headers"])
            assert answer.status_code == 201, answer.get_json()
            listings.append(answer.get_json()["id"])
        elif kind == "deliver":
            deliver()
        elif not listings:
            continue
        elif kind == "edit":
            _, index, field, amount = op
            answer = platform.catalog.patch(f"/api/auctions/{pick(listings, index)}",
                                            json={field: amount},
                                            headers=platform.seller["headers"])
            assert answer.status_code in (200, 409, 422), answer.get_json()
        elif kind == "cancel":
            answer = platform.catalog.post(f"/api/auctions/{pick(listings, op[1])}/cancel",
                                           headers=platform.seller["headers"])
            assert answer.status_code in (200, 409), answer.get_json()
        elif kind == "bid":
            _, who, index, amount = op
            answer = platform.bidding.post("/api/bids", json={
                "auction_id": pick(listings, index), "amount": amount},
                headers=platform.bidders[who]["headers"])
            assert answer.status_code in (201, 403, 409, 422), answer.get_json()
            if answer.status_code == 201:
                accepted_bids.append(answer.get_json()["bid_id"])
        elif kind == "buy":
            _, who, index = op
            answer = platform.bidding.post(
                f"/api/bids/auctions/{pick(listings, index)}/buy-now",
                headers=platform.bidders[who]["headers"])
            assert answer.status_code in (201, 403, 404, 409), answer.get_json()
            if answer.status_code == 201:
                accepted_bids.append(answer.get_json()["bid_id"])
        elif kind == "close":
            with platform.db("bidding_service").engine.begin() as conn:
                conn.execute(text("UPDATE bidding.auctions SET ends_at = clock_timestamp() "
                                  "- interval '1 millisecond' WHERE id = :a AND NOT closed"),
                             {"a": pick(listings, op[1])})
            close_due_auctions(platform.db("bidding_service"))
        elif kind in ("suspend", "unsuspend"):
            status(platform, platform.bidders[op[1]],
                   "suspended" if kind == "suspend" else "active")

    return listings, accepted_bids


def pick(listings: list[str], index: int) -> str:
    return listings[index % len(listings)]


def status(platform, user: dict, wanted: str) -> None:
    verb = "suspend" if wanted == "suspended" else "unsuspend"
    answer = platform.users.post(f"/api/users/{user['id']}/{verb}",
                                 headers=platform.admin["headers"])
    assert answer.status_code == 200, answer.get_json()
    if wanted == "active":  # suspending ended the sessions: sign in again
        user["headers"] = platform.login(user["email"], user["id"], user["name"])["headers"]


def quiesce(bus: ShufflingBus, relays) -> None:
    """Relay and deliver (nothing held back any more) until nothing moves."""
    for _ in range(30):
        moved = sum(relay.drain() for relay in relays)
        if not moved and not bus.pending():
            return
        bus.deliver(hold_back=False)
    raise AssertionError("the events never settled")


def every_listing_agrees(platform, listings: list[str]) -> None:
    for auction_id in listings:
        truth = platform.query(
            "bidding_service",
            "SELECT closed, outcome, current_price, bid_count, winner_id, reserve_price, "
            "buy_now_price, starting_price FROM bidding.auctions WHERE id = :a",
            a=auction_id)
        assert truth, f"bidding never heard of {auction_id}"
        [(closed, outcome, price, count, winner, reserve, buy_now, starting)] = truth
        seen = platform.catalog.get(f"/api/auctions/{auction_id}",
                                    headers=platform.seller["headers"]).get_json()
        assert (seen["reserve_price"], seen["buy_now_price"], seen["starting_price"]) == (
            reserve, buy_now, starting), "terms"
        assert (seen["current_price"], seen["bid_count"]) == (price, count), "price and count"
        assert seen["winner_id"] == (str(winner) if winner else None), "winner"
        live = platform.bidding.get(f"/api/bids/auctions/{auction_id}").get_json()
        assert seen["buy_now_available"] == live["buy_now_available"], \
            "Buy It Now as bidding decides it"
        if outcome == "cancelled":
            assert seen["status"] == "cancelled"
        elif closed:
            assert (seen["status"], seen["outcome"]) == ("ended", outcome)
        else:
            assert seen["outcome"] is None and seen["status"] in ("live", "scheduled")


def every_bid_stands(platform, accepted_bids: list[str]) -> None:
    if not accepted_bids:
        return
    stored = platform.query("bidding_service", "SELECT id::text FROM bidding.bids "
                            "WHERE id = ANY(CAST(:ids AS uuid[]))", ids=accepted_bids)
    assert {row[0] for row in stored} == set(accepted_bids)
    cancelled_with_bids = platform.query(
        "bidding_service", "SELECT count(*) FROM bidding.auctions a WHERE outcome = "
        "'cancelled' AND EXISTS (SELECT 1 FROM bidding.bids b WHERE b.auction_id = a.id)")
    assert cancelled_with_bids == [(0,)], "a bid answered 201 was voided by a cancellation"


def every_replica_agrees(platform) -> None:
    accounts = {str(r[0]): (r[1], r[2], r[3]) for r in platform.query(
        "user_service", "SELECT id, status, display_name, email FROM users.users")}
    bidders = platform.query("bidding_service",
                             "SELECT user_id, status, display_name FROM bidding.bidders")
    assert len(bidders) == len(accounts)
    for user_id, state, name in bidders:
        assert (state, name) == accounts[str(user_id)][:2]
    contacts = platform.query("notification_service",
                              "SELECT user_id, display_name, email FROM notifications.contacts")
    assert {str(u): (n, e) for u, n, e in contacts} == {
        u: (a[1], a[2]) for u, a in accounts.items()}


def every_notice_once(platform, listings: list[str]) -> None:
    events = [row[0] for row in platform.query(
        "bidding_service", "SELECT payload FROM bidding.outbox WHERE payload->'data'->>"
        "'auction_id' = ANY(CAST(:ids AS text[]))", ids=listings)]
    expected = []
    for event in events:
        data = event["data"]
        if event["type"] == "bid.outbid":
            expected.append((data["user_id"], "outbid", data["auction_id"], data["seq"]))
        elif event["type"] == "auction.ended" and data["outcome"] != "cancelled":
            expected.append((data["seller_id"], "listing_ended", data["auction_id"], None))
            if data["winner_id"]:
                expected.append((data["winner_id"], "won", data["auction_id"], None))
    sent = [(str(user), kind, data["auction_id"],
             data.get("seq") if kind == "outbid" else None)
            for user, kind, data in platform.query(
                "notification_service",
                "SELECT user_id, kind, data FROM notifications.notifications "
                "WHERE kind IN ('outbid', 'won', 'listing_ended') "
                "AND data->>'auction_id' = ANY(CAST(:ids AS text[]))", ids=listings)]
    assert sorted(sent, key=repr) == sorted(expected, key=repr)


def test_the_shuffling_bus_really_reorders_and_duplicates():
    """The proof above is only as good as the bus: it must reorder, repeat and hold back."""
    from auction_common.bus import Subscription

    got: list[int] = []
    bus = ShufflingBus(random.Random(7))
    bus.subscribe(Subscription("q", ["t.x"], lambda e: got.append(e["data"]["n"])))
    bus.publish([{"id": str(n), "type": "t.x", "data": {"n": n}} for n in range(50)])
    bus.deliver()
    held = bus.pending()
    bus.deliver(hold_back=False)
    assert held > 0 and len(got) > 50 and sorted(set(got)) == list(range(50))
    assert got != sorted(got)


SCENARIO = [
    ("list", 1500, 6000, 3600), ("list", None, 6000, 0), ("list", 4000, None, 3600),
    ("list", None, None, 0), ("deliver",), ("bid", 0, 0, 2000), ("edit", 1, "buy_now_price", 7000),
    ("bid", 1, 0, 3000), ("cancel", 3), ("bid", 2, 2, 2500), ("buy", 1, 1),
    ("suspend", 2), ("bid", 2, 0, 5000), ("edit", 2, "reserve_price", 2500),
    ("unsuspend", 2), ("bid", 0, 2, 4500), ("bid", 2, 0, 8000), ("close", 0), ("close", 2),
    ("list", 1500, None, 0), ("deliver",), ("cancel", 4), ("bid", 0, 4, 2000),
]


def test_two_workers_per_queue_on_rabbitmq_with_failures_injected_converge(platform):
    """The same checks with the real broker: two workers per queue (each its own connection),
    every third event failing once in its handler (so it goes through the retry queue's
    back-off and comes back after later events), publishers relaying as they go."""
    import threading

    from auction_common.bus import RabbitBus
    from auction_common.consumer import IdempotentConsumer, applies_in_batches
    from tests.support.waiting import wait_for

    vhost = f"converge_{uuid.uuid4().hex[:10]}"
    provision.ensure_rabbitmq_vhost(vhost)
    url = provision.amqp_url(vhost)
    failed_once, lock = set(), threading.Lock()

    def flaky(handler):
        def fails_first_time(event) -> bool:
            return event["id"] not in failed_once and int(event["id"][:4], 16) % 3 == 0

        def handle(uow, event):
            with lock:
                first = fails_first_time(event)
                failed_once.add(event["id"])
            if first:
                raise RuntimeError("injected failure: retried through the retry queue")
            handler(uow, event)

        def handle_run(uow, events):  # a handler taking runs: fails once with such an event
            with lock:
                first = any(fails_first_time(event) for event in events)
                failed_once.update(event["id"] for event in events)
            if first:
                raise RuntimeError("injected failure: retried through the retry queue")
            handler(uow, events)

        if getattr(handler, "applies_in_batches", False):
            return applies_in_batches(handle_run)
        return handle

    workers = []
    for _ in range(2):
        bus = RabbitBus(url, prefetch=8, batch_wait=0.01)
        for parts in platform.parts.values():
            for consumer in parts.consumers:
                bus.subscribe(IdempotentConsumer(
                    consumer.db, consumer.name,
                    {t: [flaky(h) for h in hs] for t, hs in consumer.handlers.items()},
                    consumer.snapshots).subscription())
        bus.start()
        workers.append(bus)
    publisher = RabbitBus(url)
    relays = [OutboxRelay(parts.db, publisher) for parts in platform.parts.values()]
    try:
        for relay in relays:
            relay.drain()  # whatever earlier tests left unpublished
        def deliver():
            """Relay, and wait until bidding knows every listing made so far."""
            for relay in relays:
                relay.drain()
            made = platform.query("auction_service", "SELECT count(*) FROM auctions.auctions")
            wait_for(lambda: platform.query(
                "bidding_service", "SELECT count(*) FROM bidding.auctions") >= made,
                timeout=30, message="bidding to hear of every listing")

        listings, accepted_bids = play(platform, SCENARIO, deliver)
        assert listings and accepted_bids

        def converged():
            for relay in relays:
                relay.drain()
            try:
                every_listing_agrees(platform, listings)
                every_replica_agrees(platform)
                every_notice_once(platform, listings)
            except AssertionError:
                return False
            return True

        wait_for(converged, timeout=90, interval=0.5, message="every copy to converge")
        every_bid_stands(platform, accepted_bids)
        assert failed_once, "failures were injected"
    finally:
        for bus in workers:
            bus.stop()
        publisher.stop()
        provision.delete_rabbitmq_vhost(vhost)
