"""bidding_service on real PostgreSQL: the bid path, idempotency, contention, closing."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from auction_common import idempotency
from auction_common.events import EventSchemas
from bidding_service import handlers
from bidding_service.app import EVENT_SCHEMAS
from bidding_service.domain import AuctionState, decide_bid
from bidding_service.handlers import close_due_auctions
from tests.support.closing import close_auction
from tests.support.outbox import outbox_events
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def client(bidding):
    return bidding[0].test_client()


@pytest.fixture(scope="module")
def db(bidding):
    return bidding[1].db


def place(client, who, auction_id, amount, key=None):
    headers = dict(who.headers)
    if key:
        headers["Idempotency-Key"] = key
    return client.post("/api/bids", json={"auction_id": auction_id, "amount": amount},
                       headers=headers)


def test_an_accepted_bid_answers_with_the_new_state_and_records_its_event(
        client, db, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id)
    answer = place(client, ann, auction_id, 2500)
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["status"] == "leading"
    assert (body["current_price"], body["min_next_bid"], body["seq"]) == (1000, 1050, 1)
    state = client.get(f"/api/bids/auctions/{auction_id}", headers=ann.headers).get_json()
    assert (state["leader_id"], state["you_lead"]) == (ann.id, True)
    assert (state["status"], state["bid_count"], state["seq"]) == ("live", 1, 1)
    assert "server_time" in state
    [event] = outbox_events(db, auction_id, "bid.placed")
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"]["seq"] == 1


def test_the_outbid_leader_is_named_in_a_bid_outbid_event(client, db, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id)
    place(client, ann, auction_id, 1500)
    answer = place(client, bob, auction_id, 3000)
    assert answer.get_json()["status"] == "leading"
    assert answer.get_json()["current_price"] == 1550
    [outbid] = outbox_events(db, auction_id, "bid.outbid")
    assert outbid["data"]["user_id"] == ann.id


@pytest.mark.parametrize("body, status, code", [
    ({"auction_id": "not-a-uuid", "amount": 100}, 422, "validation_error"),
    ({"auction_id": str(uuid.uuid4()), "amount": 12.5}, 422, "validation_error"),
    ({"auction_id": str(uuid.uuid4()), "amount": -5}, 422, "validation_error"),
    ({"auction_id": str(uuid.uuid4())}, 422, "validation_error"),
    ({"auction_id": str(uuid.uuid4()), "amount": 100}, 422, "auction_not_found"),
])
def test_bad_bids_get_a_clear_error(client, account, body, status, code):
    answer = client.post("/api/bids", json=body, headers=account("ann").headers)
    assert answer.status_code == status
    assert answer.get_json()["error"]["code"] == code


def test_a_bid_needs_a_valid_token(client, open_auction, account):
    auction_id = open_auction(account("seller").id)
    assert client.post("/api/bids", json={"auction_id": auction_id, "amount": 5000}
                       ).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    answer = client.post("/api/bids", json={"auction_id": auction_id, "amount": 5000},
                         headers=forged)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "invalid_token"


def test_not_json_and_broken_json_are_refused_without_a_500(client, account):
    headers = account("ann").headers
    assert client.post("/api/bids", data="amount=5", headers=headers).status_code == 415
    broken = client.post("/api/bids", data="{", headers=headers,
                         content_type="application/json")
    assert broken.status_code == 400
    assert broken.get_json()["error"]["code"] == "invalid_json"


def test_the_state_of_an_unknown_auction_is_404(client):
    answer = client.get(f"/api/bids/auctions/{uuid.uuid4()}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "auction_not_found"


def test_a_retried_bid_with_the_same_idempotency_key_answers_the_same_and_bids_once(
        client, db, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id)
    first = place(client, ann, auction_id, 2000, key="k-1")
    again = place(client, ann, auction_id, 2000, key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM bidding.bids WHERE auction_id = :a"),
                              {"a": auction_id}).scalar_one()
    assert stored == 1
    conflict = place(client, ann, auction_id, 9000, key="k-1")
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["code"] == "idempotency_conflict"


def test_a_bid_whose_idempotency_key_holds_a_control_character_is_refused_and_not_placed(
        client, db, account, open_auction):
    """A NUL in the key reached PostgreSQL, which refuses NUL in text: a 500."""
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id)
    answer = place(client, ann, auction_id, 2000, key="k\x00")
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["details"][0]["field"] == "Idempotency-Key"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bidding.bids WHERE auction_id = :a"),
                            {"a": auction_id}).scalar_one() == 0
    assert place(client, ann, auction_id, 2000, key="k-\u00e9").status_code == 201


def test_concurrent_retries_with_one_key_place_one_bid(client, db, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: place(client, ann, auction_id, 4000, key="same"),
                                range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.get_json()["bid_id"] for a in answers}) == 1


def test_many_bidders_at_once_give_the_sequential_result(client, db, account, open_auction):
    seller = account("seller")
    bidders = [account(f"b{i}") for i in range(10)]
    auction_id = open_auction(seller.id, starting_price=100)
    amounts = [(bidders[i % 10], 100 + 37 * i) for i in range(200)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda pair: place(client, pair[0], auction_id, pair[1]),
                                amounts))
    assert all(a.status_code in (201, 422) for a in answers), {a.status_code for a in answers}
    accepted = [a.get_json() for a in answers if a.status_code == 201]
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT bidder_id, max_amount, price_after, seq, status FROM bidding.bids "
            "WHERE auction_id = :a ORDER BY number"), {"a": auction_id}).all()
    assert len(rows) == len(accepted), "every 201 is a stored bid, and nothing else is"
    # Replaying the stored bids in commit order through the rules gives the same final state.
    now = datetime.now(UTC)
    replay = AuctionState(auction_id=auction_id, seller_id=seller.id, starting_price=100,
                          starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
                          current_price=100)
    for row in rows:
        replay = decide_bid(replay, str(row.bidder_id), row.max_amount, now).state
        assert replay.current_price == row.price_after
    [leader] = [who for who in bidders if who.id == replay.leader_id]
    final = client.get(f"/api/bids/auctions/{auction_id}", headers=leader.headers).get_json()
    assert (final["current_price"], final["leader_id"], final["bid_count"]) == (
        replay.current_price, replay.leader_id, replay.bid_count)
    prices = [row.price_after for row in rows]
    assert prices == sorted(prices), "the price never goes down"


def _comparable(answer):
    """An answer without what differs between two auctions (ids, the end)."""
    status, body = answer
    if "error" in body:
        return status, body["error"]["code"], body["error"]["details"]
    return status, {k: v for k, v in body.items() if k not in ("bid_id", "auction_id",
                                                               "ends_at")}


def _cast(db, account) -> tuple:
    """A seller, three bidders and a suspended one (as bidding's replica knows them)."""
    seller, ann, bob, cat = (account(name) for name in ("seller", "ann", "bob", "cat"))
    suspended = account("sue")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO bidding.bidders (user_id, display_name, status) "
                          "VALUES (:u, 'sue', 'suspended') ON CONFLICT (user_id) "
                          "DO UPDATE SET status = 'suspended'"), {"u": suspended.id})
    return seller, ann, bob, cat, suspended


def _decided_alone_and_together(db, alone: list, together: list) -> list:
    """Decide ``alone`` one by one and ``together`` as one group (the same plan on other
    auctions); check that each got the same answer; returns ``together``."""
    for request in alone:
        handlers.decide_bids(db, [request])
    handlers.decide_bids(db, together)
    assert [_comparable(r.answer) for r in together] == [_comparable(r.answer) for r in alone]
    return together


def _stored(db, auction_id):
    """What an auction's bids left: the bids, the history, the row's state, the events."""
    with db.engine.connect() as conn:
        bids = conn.execute(text(
            "SELECT bidder_id, max_amount, price_after, status, seq FROM bidding.bids "
            "WHERE auction_id = :a ORDER BY number"), {"a": auction_id}).all()
        lines = conn.execute(text(
            "SELECT seq, position, bidder_id, current_price, auto FROM bidding.bid_history "
            "WHERE auction_id = :a ORDER BY seq, position"), {"a": auction_id}).all()
        row = conn.execute(text(
            "SELECT current_price, bid_count, leader_id, leader_max, leader_name, seq "
            "FROM bidding.auctions WHERE id = :a"), {"a": auction_id}).one()
    events = [(e["type"], e["data"]["seq"], e["data"].get("current_price"))
              for e in outbox_events(db, auction_id)]
    return bids, lines, tuple(row), events


def test_bids_decided_together_answer_and_store_as_if_placed_one_by_one(db, account,
                                                                      open_auction):
    seller, ann, bob, cat, suspended = _cast(db, account)
    plan = [(ann, 2000, "k1"), (bob, 1500, None), (ann, 5000, None), (cat, 900, None),
            (suspended, 9000, None), (bob, 2000, "k2"), (bob, 2000, "k2"), (cat, 6000, None),
            (ann, 7000, "k1"), (seller, 8000, None), (bob, 5500, None)]
    one_by_one, together = open_auction(seller.id), open_auction(seller.id)

    def requests(auction_id):
        return [handlers.BidRequest(uuid.UUID(auction_id), who.id, amount,
                                    key and f"{auction_id}-{key}",
                                    idempotency.fingerprint("bid", auction_id, amount))
                for who, amount, key in plan]

    grouped = _decided_alone_and_together(db, requests(one_by_one), requests(together))
    assert [r.answer[0] for r in grouped] == [
        201, 201, 201, 422, 403, 201, 201, 201, 409, 422, 201]
    assert grouped[5].answer == grouped[6].answer, "a retry in the same group replays"

    assert _stored(db, together) == _stored(db, one_by_one)


def test_bids_on_several_auctions_decided_in_one_group_answer_and_store_as_if_alone(
        db, account, open_auction):
    """A web process decides the bids that arrive together in one transaction, whatever
    their auctions: each auction's bids in arrival order, interleaved with the others', an
    unknown auction and a suspended bidder among them."""
    seller, ann, bob, cat, suspended = _cast(db, account)
    unknown = str(uuid.uuid4())
    # (auction: 0, 1, 2 or the unknown one, bidder, amount, Idempotency-Key)
    plan = [(0, ann, 2000, "k1"), (1, bob, 1500, None), (2, cat, 5000, None),
            (0, bob, 1500, None), (9, ann, 3000, "k9"), (1, ann, 5000, None),
            (0, cat, 900, None), (2, suspended, 9000, None), (1, bob, 2000, "k2"),
            (1, bob, 2000, "k2"), (0, cat, 6000, None), (2, ann, 7000, None),
            (0, ann, 7000, "k1"), (1, seller, 8000, None), (2, bob, 5500, None)]

    def requests(auctions):
        made = []
        for index, who, amount, key in plan:
            auction_id = auctions[index] if index < 3 else unknown
            made.append(handlers.BidRequest(
                uuid.UUID(auction_id), who.id, amount, key and f"{auctions[0]}-{key}",
                idempotency.fingerprint("bid", auction_id, amount)))
        return made

    alone_auctions = [open_auction(seller.id) for _ in range(3)]
    together_auctions = [open_auction(seller.id) for _ in range(3)]
    grouped = _decided_alone_and_together(db, requests(alone_auctions), requests(together_auctions))
    assert [r.answer[0] for r in grouped] == [
        201, 201, 201, 201, 422, 201, 422, 403, 201, 201, 201, 201, 409, 422, 201]
    assert grouped[8].answer == grouped[9].answer, "a retry in the same group replays"

    for together, one_by_one in zip(together_auctions, alone_auctions, strict=True):
        assert _stored(db, together) == _stored(db, one_by_one)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bidding.bids WHERE auction_id = :a"),
                            {"a": unknown}).scalar_one() == 0


def test_a_group_member_whose_twin_committed_elsewhere_replays_and_the_rest_still_count(
        db, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id)
    fingerprint = idempotency.fingerprint("bid", auction_id, 3000)
    first = handlers.BidRequest(uuid.UUID(auction_id), ann.id, 3000, "twin", fingerprint)
    handlers.decide_bids(db, [first])  # "another process" answered
    twin = handlers.BidRequest(uuid.UUID(auction_id), ann.id, 3000, "twin", fingerprint)
    other = handlers.BidRequest(uuid.UUID(auction_id), bob.id, 4000, None,
                                idempotency.fingerprint("bid", auction_id, 4000))
    handlers.decide_bids(db, [twin, other])
    assert twin.answer == first.answer
    assert other.answer[0] == 201 and other.answer[1]["status"] == "leading"
    with db.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM bidding.bids WHERE auction_id = :a"),
                             {"a": auction_id}).scalar_one()
    assert count == 2, "the twin placed no second bid; the other bid was kept"


def test_a_request_the_database_refuses_fails_alone_and_its_group_still_bids(
        db, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id)

    def request(bidder_id, amount):
        return handlers.BidRequest(uuid.UUID(auction_id), bidder_id, amount, None,
                                   idempotency.fingerprint("bid", auction_id, amount))

    group = [request(ann.id, 2000), request("not-a-uuid", 3000), request(bob.id, 4000)]
    handlers.decide_bids(db, group)
    assert [r.answer and r.answer[1]["status"] for r in group] == ["leading", None, "leading"]
    assert isinstance(group[1].error, DBAPIError) and group[0].error is None
    with db.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM bidding.bids WHERE auction_id = :a"),
                             {"a": auction_id}).scalar_one()
    assert count == 2


def test_a_bid_on_a_connection_the_server_dropped_answers_503_and_the_next_one_stands(
        client, db, account, open_auction, monkeypatch):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id)
    assert place(client, ann, auction_id, 1500).status_code == 201
    with db.engine.connect(), db.engine.connect():  # the pool has more than one connection
        pass
    # The server drops the pooled connections the moment after (a restart, a failover): too
    # soon for the pool's idle check to have looked at them.
    monkeypatch.setattr("auction_common.db.PING_AFTER_IDLE_SECONDS", 3600.0)
    with psycopg2.connect(db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)) as admin, admin.cursor() as cursor:
        cursor.execute("""SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                          WHERE datname = current_database() AND pid <> pg_backend_pid()
                            AND application_name = 'bidding_service' AND state = 'idle'""")
        assert cursor.fetchone()[0] >= 2
    admin.close()
    dropped = place(client, bob, auction_id, 2000)
    assert dropped.status_code == 503, dropped.get_json()
    assert dropped.get_json()["error"]["code"] == "service_unavailable"
    assert dropped.headers["Retry-After"]
    again = place(client, bob, auction_id, 2000)  # on a new connection, not another dead one
    assert again.status_code == 201 and again.get_json()["status"] == "leading"
    with db.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM bidding.bids WHERE auction_id = :a"),
                             {"a": auction_id}).scalar_one()
    assert count == 2, "the bid that got a 503 was not stored"


def test_an_auction_closes_exactly_once_and_takes_no_bid_after(client, db, account,
                                                               open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id, seconds=1.0)
    assert place(client, ann, auction_id, 3000).status_code == 201
    stop = threading.Event()
    late_answers = []

    def keep_bidding():
        amount = 3100
        while not stop.is_set():
            late_answers.append((datetime.now(UTC), place(client, bob, auction_id, amount)))
            amount += 100

    bidder = threading.Thread(target=keep_bidding)
    bidder.start()

    def three_closers_racing():
        # The closers are global (they close other tests' due auctions too): what they
        # return is not this auction's story, its outbox is.
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda _: close_due_auctions(db), range(3)))
        return outbox_events(db, auction_id, "auction.ended")

    try:
        wait_for(three_closers_racing, timeout=10, message="the closers to end the auction")
    finally:
        stop.set()
        bidder.join()
    [ended] = outbox_events(db, auction_id, "auction.ended")
    state = client.get(f"/api/bids/auctions/{auction_id}", headers=seller.headers).get_json()
    assert state["status"] == "ended"
    assert ended["data"]["outcome"] == "sold"
    assert ended["data"]["winner_id"] == state["winner_id"], "the seller learns the winner"
    assert ended["data"]["price"] == state["current_price"]
    with db.engine.connect() as conn:
        after_end = conn.execute(text(
            "SELECT count(*) FROM bidding.bids b JOIN bidding.auctions a ON a.id = b.auction_id "
            "WHERE a.id = :a AND b.placed_at >= a.ends_at"), {"a": auction_id}).scalar_one()
    assert after_end == 0, "no bid is accepted after the end"
    assert place(client, bob, auction_id, 99_000).get_json()["error"]["code"] == (
        "auction_not_live")
    close_due_auctions(db)
    assert len(outbox_events(db, auction_id, "auction.ended")) == 1, "closed once, for good"


def test_an_auction_without_bids_ends_unsold(db, account, open_auction):
    auction_id = open_auction(account("seller").id, seconds=0.2)
    ended = close_auction(db, auction_id)
    assert (ended["data"]["outcome"], ended["data"]["winner_id"]) == ("unsold_no_bids", None)
