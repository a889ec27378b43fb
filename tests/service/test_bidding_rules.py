"""bidding_service's complete rules through its HTTP API on real PostgreSQL: reserve, Buy It
Now, anti-sniping, history, my bids, suspended users, edits and cancellations."""

from __future__ import annotations

import itertools
import uuid

import pytest

from auction_common.events import make_envelope
from bidding_service.consumers import catalog_consumer, users_consumer
from tests.support.closing import close_auction, close_until
from tests.support.outbox import outbox_events


@pytest.fixture(scope="module")
def client(bidding):
    return bidding[0].test_client()


@pytest.fixture(scope="module")
def db(bidding):
    return bidding[1].db


def place(client, who, auction_id, amount, key=None):
    headers = dict(who.headers, **({"Idempotency-Key": key} if key else {}))
    return client.post("/api/bids", json={"auction_id": auction_id, "amount": amount},
                       headers=headers)


def buy(client, who, auction_id, key=None):
    headers = dict(who.headers, **({"Idempotency-Key": key} if key else {}))
    return client.post(f"/api/bids/auctions/{auction_id}/buy-now", headers=headers)


def state(client, auction_id, who=None):
    headers = who.headers if who is not None else None
    return client.get(f"/api/bids/auctions/{auction_id}", headers=headers).get_json()


_versions = itertools.count(2)  # each change a newer version of the account


def tell_users(db, account, status="active"):
    users_consumer(db)(make_envelope("user.updated", {
        "user_id": account.id, "email": account.email, "display_name": account.name,
        "role": "user", "status": status, "version": next(_versions)},
        producer="user_service"))


def test_the_public_state_says_whether_the_reserve_is_met_never_its_amount(
        client, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id, reserve_price=5000)
    assert place(client, ann, auction_id, 3000).get_json()["reserve_met"] is False
    shown = state(client, auction_id)
    assert (shown["has_reserve"], shown["reserve_met"], shown["current_price"]) == (
        True, False, 1000)
    assert "reserve_price" not in shown and "5000" not in str(shown.values())
    place(client, ann, auction_id, 6000)
    shown = state(client, auction_id)
    assert (shown["reserve_met"], shown["current_price"]) == (True, 5000)


def test_with_a_reserve_buy_now_stays_offered_until_the_reserve_is_met(
        client, db, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id, reserve_price=5000, buy_now_price=8000)
    assert place(client, ann, auction_id, 3000).get_json()["buy_now_available"] is True
    assert state(client, auction_id)["buy_now_available"] is True
    assert place(client, ann, auction_id, 6000).get_json()["buy_now_available"] is False
    assert state(client, auction_id)["buy_now_available"] is False
    assert [e["data"]["buy_now_available"]
            for e in outbox_events(db, auction_id, "bid.placed")] == [True, False]


def test_buy_now_ends_the_auction_for_the_buyer_and_tells_everyone(
        client, db, account, open_auction):
    seller, bob = account("seller"), account("bob")
    auction_id = open_auction(seller.id, buy_now_price=9000)
    assert state(client, auction_id)["buy_now_price"] == 9000
    assert state(client, auction_id)["buy_now_available"] is True
    answer = buy(client, bob, auction_id, key="buy-1")
    assert answer.status_code == 201
    assert (answer.get_json()["status"], answer.get_json()["price"]) == ("won", 9000)
    assert buy(client, bob, auction_id, key="buy-1").get_json() == answer.get_json()
    [ended] = outbox_events(db, auction_id, "auction.ended")
    assert (ended["data"]["outcome"], ended["data"]["winner_id"], ended["data"]["price"]) == (
        "sold", bob.id, 9000)
    [bought] = outbox_events(db, auction_id, "bid.placed")
    assert (bought["data"]["current_price"], bought["data"]["leader_id"]) == (9000, bob.id)
    assert bought["data"]["seq"] + 1 == ended["data"]["seq"], "the purchase, then the end"
    assert bought["data"]["buy_now_available"] is False, "bought: nobody else may buy it"
    shown = state(client, auction_id, bob)
    assert (shown["status"], shown["winner_id"], shown["you_won"]) == ("ended", bob.id, True)
    assert place(client, account("cat"), auction_id, 99_000).get_json()["error"]["code"] == (
        "auction_not_live")


def test_buy_now_disappears_with_the_first_bid_and_bidding_says_so(
        client, db, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id, buy_now_price=9000)
    place(client, ann, auction_id, 1000)
    shown = state(client, auction_id)
    assert (shown["buy_now_price"], shown["buy_now_available"]) == (None, False)
    [first] = outbox_events(db, auction_id, "bid.placed")
    assert first["data"]["buy_now_available"] is False
    refused = buy(client, bob, auction_id)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "buy_now_unavailable"
    assert buy(client, bob, uuid.uuid4()).status_code == 404


def test_a_bid_in_the_last_window_extends_the_end_and_says_so(client, db, account,
                                                               open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id, seconds=30, anti_sniping_seconds=120)
    before = state(client, auction_id)["ends_at"]
    answer = place(client, ann, auction_id, 2000).get_json()
    assert answer["ends_at"] > before
    [extended] = outbox_events(db, auction_id, "auction.extended")
    assert extended["data"]["ends_at"] == answer["ends_at"]
    assert extended["data"]["seq"] == answer["seq"]


def test_the_history_shows_every_line_with_masked_names_and_auto_bids(
        client, db, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    for who in (ann, bob):
        tell_users(db, who)
    auction_id = open_auction(seller.id)
    place(client, ann, auction_id, 5000)
    place(client, bob, auction_id, 2000)
    history = client.get(f"/api/bids/auctions/{auction_id}/history").get_json()
    lines = [(i["bidder"], i["current_price"], i["auto"], i["seq"]) for i in history["items"]]
    assert lines == [(masked(ann), 1000, False, 1), (masked(bob), 2000, False, 2),
                     (masked(ann), 2050, True, 2)]
    assert state(client, auction_id)["bid_count"] == len(lines)
    later = client.get(f"/api/bids/auctions/{auction_id}/history?after_seq=1").get_json()
    assert [i["seq"] for i in later["items"]] == [2, 2]


def masked(account) -> str:
    return f"{account.name[0]}***{account.name[-1]}"


def test_history_pages_never_split_a_decision(client, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id, starting_price=100)
    place(client, ann, auction_id, 100_000)
    for amount in (200, 400, 800):
        place(client, bob, auction_id, amount)  # each adds two lines with one seq
    seen, cursor = [], "0"
    while cursor is not None:
        page = client.get(
            f"/api/bids/auctions/{auction_id}/history?after_seq={cursor}&limit=2").get_json()
        seen += [(i["seq"], i["current_price"]) for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == state(client, auction_id)["bid_count"] == 7


def test_my_bids_say_leading_outbid_won_or_lost(client, db, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id, seconds=1.5)
    place(client, ann, auction_id, 2000)
    place(client, bob, auction_id, 3000)

    def mine(who):
        items = client.get("/api/bids/mine", headers=who.headers).get_json()["items"]
        return {i["auction_id"]: (i["status"], i["your_max"]) for i in items}[auction_id]

    assert mine(ann) == ("outbid", 2000)
    assert mine(bob) == ("leading", 3000)
    close_until(db, lambda: mine(bob)[0] == "won")
    assert mine(ann)[0] == "lost"
    assert mine(bob)[0] == "won"


def test_my_bids_on_one_auction_and_my_lines_in_its_history(client, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id, other = open_auction(seller.id), open_auction(seller.id)
    place(client, ann, auction_id, 2000)
    place(client, ann, other, 1500)
    place(client, bob, auction_id, 3000)
    mine = client.get("/api/bids/mine", query_string={"auction_id": auction_id},
                      headers=ann.headers).get_json()["items"]
    assert [(i["auction_id"], i["your_max"]) for i in mine] == [(auction_id, 2000)]

    def history(headers=None):
        answer = client.get(f"/api/bids/auctions/{auction_id}/history", headers=headers or {})
        return [(line["current_price"], line.get("yours")) for line in answer.get_json()["items"]]

    assert {yours for _, yours in history()} == {None}  # anonymous: nobody's
    ann_lines = history(ann.headers)
    assert [price for price, yours in ann_lines if yours] == [1000, 2000]
    assert [price for price, yours in history(bob.headers) if yours] == [2050]


def test_a_suspended_user_cannot_bid(client, db, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id)
    tell_users(db, ann, status="suspended")
    refused = place(client, ann, auction_id, 2000)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "user_suspended"
    tell_users(db, ann, status="active")
    assert place(client, ann, auction_id, 2000).status_code == 201


def test_a_suspension_the_request_check_has_not_seen_yet_is_refused_under_the_lock(
        db, account, open_auction):
    """The app refuses a suspended account's token before any route, from a cache; the bid
    and the Buy-It-Now decisions check again, from the row they lock, in one place."""
    from bidding_service.handlers import buy_now, place_bid

    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id, buy_now_price=60_000)
    tell_users(db, ann, status="suspended")
    for status, body in (place_bid(db, ann.id, uuid.UUID(auction_id), 2000),
                         buy_now(db, ann.id, uuid.UUID(auction_id))):
        assert (status, body["error"]["code"]) == (403, "user_suspended")


def test_an_unknown_auction_refusal_is_not_remembered_for_the_key(client, db, account):
    seller, ann = account("seller"), account("ann")
    auction_id = str(uuid.uuid4())
    assert place(client, ann, auction_id, 2000, key="early").status_code == 422
    catalog_consumer(db)(make_envelope("auction.created", {
        "auction_id": auction_id, "seller_id": seller.id, "title": "Late", "category": "home",
        "currency": "EUR", "starting_price": 1000, "starts_at": "2020-01-01T00:00:00Z",
        "ends_at": "2099-01-01T00:00:00Z", "reserve_price": None, "buy_now_price": None,
        "increments": None, "anti_sniping_seconds": 0}, producer="auction_service"))
    assert place(client, ann, auction_id, 2000, key="early").status_code == 201


def test_listing_edits_apply_until_the_first_bid_and_cancel_stops_bidding(
        client, db, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id)
    edit = {"auction_id": auction_id, "seller_id": seller.id, "currency": "EUR",
            "title": "Lamp, brass", "starting_price": 3000,
            "reserve_price": None, "buy_now_price": None,
            "increments": [{"from": 0, "increment": 500}], "anti_sniping_seconds": 0,
            "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z",
            "version": 2}
    consumer = catalog_consumer(db)
    consumer(make_envelope("auction.updated", edit, producer="auction_service"))
    assert state(client, auction_id)["min_next_bid"] == 3000
    place(client, ann, auction_id, 9000)
    assert state(client, auction_id)["min_next_bid"] == 3500, "the listing's own increments"
    consumer(make_envelope("auction.updated", {**edit, "starting_price": 10, "version": 3},
                           producer="auction_service"))
    assert state(client, auction_id)["current_price"] == 3000, "no repricing after a bid"
    withdrawal = {"auction_id": auction_id, "seller_id": seller.id,
                  "cancelled_at": "2026-01-01T00:00:00Z", "version": 4}
    consumer(make_envelope("auction.cancelled", withdrawal, producer="auction_service"))
    assert state(client, auction_id)["status"] == "live", "a bid that stands is never voided"
    unbid = open_auction(seller.id)
    consumer(make_envelope("auction.cancelled", {**withdrawal, "auction_id": unbid},
                           producer="auction_service"))
    assert state(client, unbid)["status"] == "ended"
    [ended] = outbox_events(db, unbid, "auction.ended")
    assert ended["data"]["outcome"] == "cancelled"


def test_an_auction_whose_reserve_is_not_met_ends_unsold(client, db, account, open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id, seconds=1.0, reserve_price=50_000)
    place(client, ann, auction_id, 3000)
    ended = close_auction(db, auction_id)
    assert (ended["data"]["outcome"], ended["data"]["winner_id"]) == (
        "unsold_reserve_not_met", None)


def test_the_leader_is_shown_by_masked_name(client, db, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    for who in (ann, bob):
        tell_users(db, who)
    auction_id = open_auction(seller.id)
    place(client, ann, auction_id, 5000)
    place(client, bob, auction_id, 2000)  # outbid at once: ann still leads
    assert state(client, auction_id)["leader_name"] == masked(ann)
    place(client, bob, auction_id, 9000)
    assert state(client, auction_id)["leader_name"] == masked(bob)
    assert outbox_events(db, auction_id, "bid.placed")[-1]["data"]["leader_name"] == masked(bob)


def test_buy_now_while_the_reserve_is_unmet_tells_the_displaced_leader(client, db, account,
                                                                       open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id, reserve_price=50_000, buy_now_price=60_000)
    place(client, ann, auction_id, 3000)
    assert buy(client, bob, auction_id).status_code == 201
    [outbid] = outbox_events(db, auction_id, "bid.outbid")
    assert (outbid["data"]["user_id"], outbid["data"]["buy_now_available"]) == (ann.id, False)
    assert state(client, auction_id, seller)["winner_id"] == bob.id


def test_a_late_registration_event_does_not_undo_a_suspension(client, db, account,
                                                              open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id)
    tell_users(db, ann, status="suspended")
    users_consumer(db)(make_envelope("user.registered", {
        "user_id": ann.id, "email": ann.email, "display_name": ann.name, "role": "user",
        "version": 1}, producer="user_service"))
    assert place(client, ann, auction_id, 2000).get_json()["error"]["code"] == "user_suspended"


def test_a_leader_who_buys_it_now_is_not_told_they_were_outbid(client, db, account,
                                                               open_auction):
    seller, ann = account("seller"), account("ann")
    auction_id = open_auction(seller.id, reserve_price=50_000, buy_now_price=60_000)
    place(client, ann, auction_id, 3000)
    assert buy(client, ann, auction_id).status_code == 201
    assert outbox_events(db, auction_id, "bid.outbid") == []
