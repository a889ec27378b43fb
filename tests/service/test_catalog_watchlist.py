"""Watchlists and the seller's own listings, on real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from auction_common.events import EventSchemas
from auction_service.app import EVENT_SCHEMAS
from tests.service import test_catalog as base
from tests.service.test_catalog import auction_ended, bid_placed, list_item, show
from tests.support.outbox import outbox_events

client, db, deliver = base.client, base.db, base.deliver  # the catalog's fixtures
SCHEMAS = EventSchemas(EVENT_SCHEMAS)


def watch(client, user, auction_id: str):
    return client.put(f"/api/auctions/{auction_id}/watch", headers=user.headers if user else {})


def unwatch(client, user, auction_id: str):
    return client.delete(f"/api/auctions/{auction_id}/watch",
                         headers=user.headers if user else {})


def watching(client, user, **query) -> dict:
    answer = client.get("/api/auctions/watching", query_string=query, headers=user.headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def code_of(answer) -> tuple[int, str]:
    return answer.status_code, answer.get_json()["error"]["code"]


# --- watching ---------------------------------------------------------------------------------


def test_a_watched_listing_is_on_the_watchlist_and_notifications_hear_of_it(client, db,
                                                                             account):
    auction, ann = list_item(client, account("seller"), title="Brass telescope"), account("ann")
    answer = watch(client, ann, auction["id"])
    assert answer.status_code == 200
    assert answer.get_json() == {"auction_id": auction["id"], "watching": True}
    [item] = watching(client, ann)["items"]
    assert item["id"] == auction["id"] and item["watched_at"]
    assert item["watchers_count"] == 1
    mine = client.get(f"/api/auctions/{auction['id']}", headers=ann.headers).get_json()
    assert mine["watching"] is True
    [event] = outbox_events(db, auction["id"], "auction.watched", SCHEMAS)
    assert event["data"] == {"auction_id": auction["id"], "user_id": ann.id,
                             "title": "Brass telescope", "ends_at": event["data"]["ends_at"],
                             "watchers_count": 1, "watchers_seq": 1}
    assert event["data"]["ends_at"] == auction["ends_at"]


def test_watching_twice_changes_nothing(client, db, account):
    auction, ann = list_item(client, account("seller")), account("ann")
    watch(client, ann, auction["id"])
    assert watch(client, ann, auction["id"]).status_code == 200
    assert show(client, auction["id"])["watchers_count"] == 1
    assert len(watching(client, ann)["items"]) == 1
    assert len(outbox_events(db, auction["id"], "auction.watched", SCHEMAS)) == 1


def test_unwatching_removes_it_once(client, db, account):
    auction, ann = list_item(client, account("seller")), account("ann")
    watch(client, ann, auction["id"])
    answer = unwatch(client, ann, auction["id"])
    assert answer.status_code == 200
    assert answer.get_json() == {"auction_id": auction["id"], "watching": False}
    assert unwatch(client, ann, auction["id"]).status_code == 200
    assert watching(client, ann)["items"] == []
    assert show(client, auction["id"])["watchers_count"] == 0
    [event] = outbox_events(db, auction["id"], "auction.unwatched", SCHEMAS)
    assert event["data"]["user_id"] == ann.id


def test_each_change_of_the_watchers_is_numbered_with_the_count_it_leaves(client, db, account):
    auction, ann, bob = list_item(client, account("seller")), account("ann"), account("bob")
    watch(client, ann, auction["id"])
    watch(client, bob, auction["id"])
    unwatch(client, ann, auction["id"])
    watch(client, ann, auction["id"])
    changes = sorted(
        (event["data"]["watchers_seq"], event["data"]["watchers_count"])
        for kind in ("auction.watched", "auction.unwatched")
        for event in outbox_events(db, auction["id"], kind, SCHEMAS))
    assert changes == [(1, 1), (2, 2), (3, 1), (4, 2)]


def test_the_watchers_are_counted(client, account):
    auction = list_item(client, account("seller"))
    watchers = [account(f"w{i}") for i in range(3)]
    for user in watchers:
        watch(client, user, auction["id"])
    unwatch(client, watchers[0], auction["id"])
    assert show(client, auction["id"])["watchers_count"] == 2


def test_a_watchlist_is_personal_and_newest_first_in_pages(client, account):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auctions = [list_item(client, seller)["id"] for _ in range(5)]
    for auction_id in auctions:
        watch(client, ann, auction_id)
    watch(client, bob, auctions[0])
    seen, cursor = [], None
    while True:
        page = watching(client, ann, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(auctions))
    assert [item["id"] for item in watching(client, bob)["items"]] == [auctions[0]]


def test_watching_needs_a_known_open_listing_and_a_token(client, account, deliver):
    seller, ann = account("seller"), account("ann")
    assert code_of(watch(client, ann, str(uuid.uuid4()))) == (404, "auction_not_found")
    assert code_of(unwatch(client, ann, str(uuid.uuid4()))) == (404, "auction_not_found")
    auction = list_item(client, seller)
    assert watch(client, None, auction["id"]).status_code == 401
    assert client.get("/api/auctions/watching").status_code == 401
    ended = list_item(client, seller)
    deliver(auction_ended(ended, seq=1, winner_id=None, price=None))
    assert code_of(watch(client, ann, ended["id"])) == (409, "auction_ended")
    cancelled = list_item(client, seller)
    client.post(f"/api/auctions/{cancelled['id']}/cancel", headers=seller.headers)
    assert code_of(watch(client, ann, cancelled["id"])) == (409, "auction_cancelled")


def test_a_watched_listing_that_ends_stays_on_the_list_with_its_outcome(client, account,
                                                                         deliver):
    auction, ann = list_item(client, account("seller")), account("ann")
    watch(client, ann, auction["id"])
    deliver(auction_ended(auction, seq=1, winner_id=None, price=None))
    [item] = watching(client, ann)["items"]
    assert (item["status"], item["outcome"]) == ("ended", "unsold_no_bids")
    assert unwatch(client, ann, auction["id"]).status_code == 200


# --- the seller's own listings ----------------------------------------------------------------


def test_my_listings_show_status_reserve_price_bids_and_watchers(client, account, deliver):
    seller, ann = account("seller"), account("ann")
    hidden = list_item(client, seller, reserve_price=50_000)
    plain = list_item(client, seller)
    cancelled = list_item(client, seller)
    client.post(f"/api/auctions/{cancelled['id']}/cancel", headers=seller.headers)
    list_item(client, account("someone_else"))
    deliver(bid_placed(hidden, seq=1, price=1200, leader_id=ann.id, bid_count=1,
                       reserve_met=False))
    watch(client, ann, hidden["id"])
    answer = client.get("/api/auctions/mine", headers=seller.headers)
    assert answer.status_code == 200
    items = {item["id"]: item for item in answer.get_json()["items"]}
    assert list(items) == [cancelled["id"], plain["id"], hidden["id"]]
    mine = items[hidden["id"]]
    assert (mine["reserve_price"], mine["reserve_met"], mine["current_price"]) == (
        50_000, False, 1200)
    assert (mine["bid_count"], mine["watchers_count"], mine["status"]) == (1, 1, "live")
    assert items[cancelled["id"]]["status"] == "cancelled"
    only_live = client.get("/api/auctions/mine", query_string={"status": "live"},
                           headers=seller.headers).get_json()["items"]
    assert [item["id"] for item in only_live] == [plain["id"], hidden["id"]]


@pytest.mark.parametrize("sort", ["price_desc", "most_bids"])
def test_my_listings_sort_and_page(client, account, deliver, sort):
    seller = account("seller")
    made = [list_item(client, seller, starting_price=price) for price in (1000, 3000, 2000)]
    if sort == "most_bids":
        for n in range(1, 3):
            deliver(bid_placed(made[2], seq=n, price=2000, leader_id=account("b").id,
                               bid_count=n))
    page = client.get("/api/auctions/mine", query_string={"sort": sort, "limit": 1},
                      headers=seller.headers).get_json()
    assert page["items"][0]["id"] == (made[1] if sort == "price_desc" else made[2])["id"]
    assert page["next_cursor"]


def test_my_listings_need_a_token(client):
    assert client.get("/api/auctions/mine").status_code == 401
