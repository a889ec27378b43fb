"""Decisions are made on the truth: a seller's withdrawal or new terms are decided by bidding
(the owner of the bids) under the auction's row lock, and the catalog answers with that
decision. Copies converge whatever the order the events arrive in.

The catalog and bidding run as their real apps on PostgreSQL; the catalog reaches bidding in
process (as in the embedded mode); events are handed to the real consumers as the broker would.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from auction_common.events import isoformat, make_envelope
from auction_service.bidding import BiddingGate, http_transport
from auction_service.consumers import read_model_consumer
from bidding_service.consumers import catalog_consumer, users_consumer
from notification_service.handlers import remember_contact
from tests.service.test_catalog import in_, list_item, show
from tests.support.outbox import outbox_events


@pytest.fixture(scope="module")
def shop(catalog, bidding):
    return Shop(catalog, bidding)


class Shop:
    """The catalog and bidding side by side, with the events between them delivered on demand."""

    def __init__(self, catalog, bidding):
        self.catalog_app, self.catalog_db = catalog[0], catalog[1].db
        self.bidding_app, self.bidding_db = bidding[0], bidding[1].db
        self.catalog = self.catalog_app.test_client()
        self.bidding = self.bidding_app.test_client()
        self.to_bidding = catalog_consumer(self.bidding_db)
        self.to_catalog = read_model_consumer(self.catalog_db)

    def list(self, seller, **fields) -> dict:
        """List an item; bidding hears of it (``auction.created`` delivered)."""
        auction = list_item(self.catalog, seller, **fields)
        for event in outbox_events(self.catalog_db, auction["id"], "auction.created"):
            self.to_bidding(event)
        return auction

    def bid(self, bidder, auction_id: str, amount: int, client=None):
        return (client or self.bidding).post(
            "/api/bids", json={"auction_id": auction_id, "amount": amount},
            headers=bidder.headers)

    def cancel(self, seller, auction_id: str, client=None):
        return (client or self.catalog).post(f"/api/auctions/{auction_id}/cancel",
                                             headers=seller.headers)

    def edit(self, seller, auction_id: str, client=None, **changes):
        return (client or self.catalog).patch(f"/api/auctions/{auction_id}", json=changes,
                                              headers=seller.headers)

    def live(self, auction_id: str) -> dict:
        answer = self.bidding.get(f"/api/bids/auctions/{auction_id}")
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def sync_catalog(self, auction_id: str) -> dict:
        """Deliver bidding's events of the auction to the catalog's read model; its view."""
        for event in outbox_events(self.bidding_db, auction_id):
            self.to_catalog(event)
        return show(self.catalog, auction_id)


def code(answer) -> str:
    return answer.get_json()["error"]["code"]


def race(*calls):
    """Run the calls at the same moment, each on its own thread; their answers in order."""
    start, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        start.wait(5)
        answers[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


# --- the owner of the bids decides -----------------------------------------------------------


def test_a_cancel_after_a_bid_is_refused_and_the_bid_stands(shop, account):
    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller)
    assert shop.bid(ann, auction["id"], 1500).status_code == 201
    # The catalog has not heard of the bid yet: bidding's answer decides.
    answer = shop.cancel(seller, auction["id"])
    assert (answer.status_code, code(answer)) == (409, "listing_locked")
    assert show(shop.catalog, auction["id"])["status"] == "live"
    assert shop.live(auction["id"])["status"] == "live"
    assert outbox_events(shop.catalog_db, auction["id"], "auction.cancelled") == []


def test_after_a_cancel_no_bid_is_accepted_and_the_catalog_agrees(shop, account):
    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller)
    assert shop.cancel(seller, auction["id"]).status_code == 200
    refused = shop.bid(ann, auction["id"], 1500)
    assert (refused.status_code, code(refused)) == (409, "auction_not_live")
    view = shop.sync_catalog(auction["id"])
    assert view["status"] == "cancelled" and view["bid_count"] == 0
    assert shop.live(auction["id"])["outcome"] == "cancelled"


def test_new_terms_after_a_bid_are_refused_and_bidding_keeps_the_old(shop, account):
    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller, reserve_price=2000, buy_now_price=5000)
    assert shop.bid(ann, auction["id"], 2500).get_json()["reserve_met"] is True
    for changes in ({"reserve_price": 3000}, {"buy_now_price": 9000},
                    {"starting_price": 500}, {"ends_at": in_(3600)}):
        answer = shop.edit(seller, auction["id"], **changes)
        assert (answer.status_code, code(answer)) == (409, "listing_locked"), changes
    assert shop.live(auction["id"])["reserve_met"] is True
    mine = shop.catalog.get(f"/api/auctions/{auction['id']}", headers=seller.headers)
    assert mine.get_json()["reserve_price"] == 2000


def test_new_terms_before_the_first_bid_are_in_force_for_it(shop, account):
    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller, reserve_price=2000, buy_now_price=5000)
    assert shop.edit(seller, auction["id"], reserve_price=3000,
                     buy_now_price=6000).status_code == 200
    assert shop.live(auction["id"])["buy_now_price"] == 6000
    answer = shop.bid(ann, auction["id"], 2500)
    assert answer.status_code == 201 and answer.get_json()["reserve_met"] is False


def bidding_terms(shop, auction_id: str) -> tuple[int | None, int | None]:
    """(reserve, Buy-It-Now price) as bidding decides with them."""
    with shop.bidding_db.engine.connect() as conn:
        return tuple(conn.execute(text("SELECT reserve_price, buy_now_price FROM "
                                       "bidding.auctions WHERE id = :a"), {"a": auction_id}).one())


@pytest.mark.parametrize("seller_action", ["cancel", "raise_reserve", "new_buy_now_price"])
def test_a_seller_and_a_bidder_at_the_same_moment_end_in_one_consistent_outcome(
        shop, account, seller_action):
    seller = account("seller")
    changes = {"raise_reserve": {"reserve_price": 3000},
               "new_buy_now_price": {"buy_now_price": 7000}}.get(seller_action)
    for _ in range(8):
        bidder = account("ann")
        auction = shop.list(seller, reserve_price=2000, buy_now_price=5000)
        catalog, bidding = shop.catalog_app.test_client(), shop.bidding_app.test_client()
        if changes is None:
            def action(a=auction, c=catalog):
                return shop.cancel(seller, a["id"], c)
        else:
            def action(a=auction, c=catalog):
                return shop.edit(seller, a["id"], c, **changes)
        by_seller, by_bidder = race(
            action, lambda a=auction, c=bidding, b=bidder: shop.bid(b, a["id"], 2500, c))
        live, view = shop.live(auction["id"]), shop.sync_catalog(auction["id"])
        mine = shop.catalog.get(f"/api/auctions/{auction['id']}",
                                headers=seller.headers).get_json()
        catalog_terms = (mine["reserve_price"], mine["buy_now_price"])
        if by_seller.status_code == 409:  # the bid came first: it stands, terms unchanged
            assert code(by_seller) == "listing_locked"
            assert by_bidder.status_code == 201 and by_bidder.get_json()["reserve_met"]
            assert live["status"] == "live" and live["bid_count"] == 1
            assert (view["status"], view["bid_count"]) == ("live", 1)
            assert catalog_terms == bidding_terms(shop, auction["id"]) == (2000, 5000)
            continue
        # The seller came first: in force for the bid, and both services agree.
        assert by_seller.status_code == 200, by_seller.get_json()
        if changes is None:
            assert (by_bidder.status_code, code(by_bidder)) == (409, "auction_not_live")
            assert live["outcome"] == "cancelled" and view["status"] == "cancelled"
            assert view["bid_count"] == live["bid_count"] == 0
        else:
            assert by_bidder.status_code == 201, by_bidder.get_json()
            assert catalog_terms == bidding_terms(shop, auction["id"]) != (2000, 5000)
            assert by_bidder.get_json()["reserve_met"] is (seller_action != "raise_reserve")
            assert view["bid_count"] == live["bid_count"] == 1


def test_the_seller_gets_503_not_a_guess_when_bidding_cannot_be_reached(
        shop, account, settings_for):
    from auction_service.app import build_parts, create_app

    settings = settings_for("auction_service")
    parts = build_parts(settings)
    cut_off = create_app(settings, parts, BiddingGate(http_transport("http://127.0.0.1:9",
                                                                     timeout=2))).test_client()
    seller = account("seller")
    auction = shop.list(seller)
    for answer in (shop.cancel(seller, auction["id"], cut_off),
                   shop.edit(seller, auction["id"], cut_off, reserve_price=3000)):
        assert (answer.status_code, code(answer)) == (503, "bidding_unavailable")
        assert answer.headers["Retry-After"]
    mine = shop.catalog.get(f"/api/auctions/{auction['id']}", headers=seller.headers)
    assert mine.get_json()["status"] == "live" and mine.get_json()["reserve_price"] is None
    assert outbox_events(shop.catalog_db, auction["id"], "auction.cancelled") == []
    parts.db.engine.dispose()


# --- catalog events in any order --------------------------------------------------------------


def catalog_event(event_type: str, auction_id: str, seller_id: str, version: int, **data):
    now = datetime.now(UTC)
    snapshot = {"auction_id": auction_id, "seller_id": seller_id, "title": "Lamp",
                "currency": "EUR", "starting_price": 1000, "reserve_price": None,
                "buy_now_price": None, "increments": None, "anti_sniping_seconds": 0,
                "starts_at": isoformat(now - timedelta(seconds=1)),
                "ends_at": isoformat(now + timedelta(seconds=600)), "version": version}
    if event_type == "auction.created":
        snapshot["category"] = "home"
    if event_type == "auction.cancelled":
        snapshot = {"auction_id": auction_id, "seller_id": seller_id,
                    "cancelled_at": isoformat(now), "version": version}
    return make_envelope(event_type, {**snapshot, **data}, producer="auction_service")


def test_a_cancellation_arriving_before_the_creation_keeps_the_auction_closed(shop, account):
    seller, ann = account("seller"), account("ann")
    auction_id = str(uuid.uuid4())
    shop.to_bidding(catalog_event("auction.cancelled", auction_id, seller.id, 2))
    shop.to_bidding(catalog_event("auction.created", auction_id, seller.id, 1))
    refused = shop.bid(ann, auction_id, 1500)
    assert (refused.status_code, code(refused)) == (409, "auction_not_live")


def test_an_edit_arriving_before_the_creation_is_not_undone_by_it(shop, account):
    seller = account("seller")
    auction_id = str(uuid.uuid4())
    shop.to_bidding(catalog_event("auction.updated", auction_id, seller.id, 2,
                                  starting_price=4000, buy_now_price=9000))
    shop.to_bidding(catalog_event("auction.created", auction_id, seller.id, 1))
    live = shop.live(auction_id)
    assert (live["min_next_bid"], live["buy_now_price"]) == (4000, 9000)
    shop.to_bidding(catalog_event("auction.updated", auction_id, seller.id, 1,
                                  starting_price=100))  # older: ignored
    assert shop.live(auction_id)["min_next_bid"] == 4000


# --- the catalog's copy of bidding, in any order -----------------------------------------------


def test_the_read_model_takes_a_bid_that_arrives_after_its_extension(shop, account):
    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller, anti_sniping_seconds=3600)
    assert shop.bid(ann, auction["id"], 1500).status_code == 201
    placed, extended = (outbox_events(shop.bidding_db, auction["id"], t)[0]
                        for t in ("bid.placed", "auction.extended"))
    shop.to_catalog(extended)
    shop.to_catalog(placed)
    view = show(shop.catalog, auction["id"])
    assert (view["bid_count"], view["current_price"]) == (1, 1000)
    assert datetime.fromisoformat(view["ends_at"].replace("Z", "+00:00")) == \
        datetime.fromisoformat(placed["data"]["ends_at"])


def test_the_read_model_ends_with_the_final_figures_whatever_comes_late(shop, account):
    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller, buy_now_price=5000)
    bought = shop.bidding.post(f"/api/bids/auctions/{auction['id']}/buy-now",
                               headers=ann.headers)
    assert bought.status_code == 201, bought.get_json()
    for event in reversed(outbox_events(shop.bidding_db, auction["id"])):
        shop.to_catalog(event)
    view = show(shop.catalog, auction["id"])
    assert (view["status"], view["bid_count"], view["current_price"]) == ("ended", 1, 5000)


def test_after_a_buy_it_now_by_an_unknown_buyer_nobody_else_is_named_leader(shop, account):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    users = users_consumer(shop.bidding_db)
    users(make_envelope("user.registered", {"user_id": ann.id, "email": ann.email,
                                            "display_name": "annabel", "role": "user",
                                            "version": 1}, producer="user_service"))
    auction = shop.list(seller, reserve_price=3000, buy_now_price=5000)
    assert shop.bid(ann, auction["id"], 2000).status_code == 201
    assert shop.live(auction["id"])["leader_name"] == "a***l"
    # bob's registration has not reached bidding yet
    assert shop.bidding.post(f"/api/bids/auctions/{auction['id']}/buy-now",
                             headers=bob.headers).status_code == 201
    assert shop.live(auction["id"])["leader_name"] != "a***l"


# --- user events in any order ---------------------------------------------------------------


def user_event(event_type: str, user, version: int, status: str = "active",
               name: str = "ann") -> dict:
    data = {"user_id": user.id, "email": user.email, "display_name": name, "role": "user",
            "version": version}
    if event_type == "user.updated":
        data["status"] = status
    return make_envelope(event_type, data, producer="user_service")


def test_a_suspension_and_its_lifting_converge_in_any_order(shop, account, notifications):
    ann = account("ann")
    users = users_consumer(shop.bidding_db)
    suspended = user_event("user.updated", ann, 2, "suspended", "ann")
    lifted = user_event("user.updated", ann, 3, "active", "annie")
    for event in (lifted, suspended, user_event("user.registered", ann, 1)):
        users(event)
    with shop.bidding_db.engine.connect() as conn:
        row = conn.execute(text("SELECT status, display_name FROM bidding.bidders "
                                "WHERE user_id = :u"), {"u": ann.id}).one()
    assert tuple(row) == ("active", "annie")
    notify_db = notifications[1].db
    for event in (lifted, suspended, user_event("user.registered", ann, 1)):
        with notify_db.unit_of_work() as uow:
            remember_contact(uow, event)
            uow.commit()
    with notify_db.engine.connect() as conn:
        name = conn.execute(text("SELECT display_name FROM notifications.contacts "
                                 "WHERE user_id = :u"), {"u": ann.id}).scalar_one()
    assert name == "annie"


# --- a COMMIT whose answer was lost -------------------------------------------------------------


def lose_the_first_commit_answer(monkeypatch):
    """The next COMMIT reaches the server, but the client sees the connection drop."""
    from sqlalchemy.exc import OperationalError

    from auction_common.db import UnitOfWork

    original, lost = UnitOfWork.commit, []

    def commit(self):
        original(self)
        if not lost:
            lost.append(True)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(UnitOfWork, "commit", commit)


def stored_bids(shop, auction_id: str) -> int:
    with shop.bidding_db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM bidding.bids WHERE auction_id = :a"),
                            {"a": auction_id}).scalar_one()


def test_a_bid_whose_commit_answer_was_lost_is_answered_as_stored(shop, account, monkeypatch):
    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller)
    lose_the_first_commit_answer(monkeypatch)
    answer = shop.bid(ann, auction["id"], 1500)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "leading"
    assert stored_bids(shop, auction["id"]) == 1
    assert shop.live(auction["id"])["bid_count"] == 1


def test_a_group_whose_commit_answer_was_lost_keeps_every_answer(shop, account, monkeypatch):
    from bidding_service.handlers import BidRequest, decide_bids

    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction = shop.list(seller)
    auction_id = uuid.UUID(auction["id"])
    requests = [BidRequest(auction_id, ann.id, 1500, None, ""),
                BidRequest(auction_id, bob.id, 2000, None, "")]
    lose_the_first_commit_answer(monkeypatch)
    decide_bids(shop.bidding_db, requests)
    assert [r.answer[0] for r in requests] == [201, 201]
    assert [r.answer[1]["status"] for r in requests] == ["leading", "leading"]
    assert stored_bids(shop, auction["id"]) == 2


def test_when_nobody_can_tell_the_client_retries_with_its_key_and_gets_the_answer(
        shop, account, monkeypatch):
    from bidding_service import handlers

    seller, ann = account("seller"), account("ann")
    auction = shop.list(seller)
    lose_the_first_commit_answer(monkeypatch)
    monkeypatch.setattr(handlers, "_were_stored", lambda db, ids: None)
    headers = {**ann.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"auction_id": auction["id"], "amount": 1500}
    first = shop.bidding.post("/api/bids", json=body, headers=headers)
    assert (first.status_code, code(first)) == (503, "commit_unknown")
    assert first.headers["Retry-After"]
    again = shop.bidding.post("/api/bids", json=body, headers=headers)
    assert again.status_code == 201 and again.get_json()["status"] == "leading"
    assert stored_bids(shop, auction["id"]) == 1
