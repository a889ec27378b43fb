"""auction_service on real PostgreSQL: listing items, browsing, and the read model of bidding."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from auction_common.events import EventSchemas, isoformat, make_envelope
from auction_service.app import EVENT_SCHEMAS
from auction_service.consumers import read_model_consumer
from bidding_service.app import EVENT_SCHEMAS as BIDDING_EVENT_SCHEMAS
from tests.support.outbox import outbox_events


@pytest.fixture(scope="module")
def client(catalog):
    return catalog[0].test_client()


@pytest.fixture(scope="module")
def db(catalog):
    return catalog[1].db


@pytest.fixture(scope="module")
def deliver(db):
    """Hand an event to the read model's real consumer, as the broker would."""
    bidding_schemas = EventSchemas(BIDDING_EVENT_SCHEMAS)
    consumer = read_model_consumer(db)

    def deliver(envelope: dict) -> None:
        bidding_schemas.validate(envelope)  # only feed events bidding_service could send
        consumer(envelope)

    return deliver


def in_(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def listing(**fields) -> dict:
    """A valid listing body ending in ten minutes, with ``fields`` changed."""
    return {"title": "Vintage camera", "description": "Works well.", "category": "electronics",
            "currency": "EUR", "starting_price": 1000, "ends_at": in_(600), **fields}


def create(client, seller, **fields):
    """POST /api/auctions as ``seller``; returns the raw response."""
    return client.post("/api/auctions", json=listing(**fields), headers=seller.headers)


def list_item(client, seller, **fields) -> dict:
    answer = create(client, seller, **fields)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def show(client, auction_id: str, who=None) -> dict:
    answer = client.get(f"/api/auctions/{auction_id}", headers=who.headers if who else None)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def bid_placed(auction: dict, seq: int, price: int, leader_id: str, bid_count: int,
               reserve_met: bool = True, buy_now_available: bool = False) -> dict:
    """A ``bid.placed`` envelope as bidding_service publishes it."""
    now = datetime.now(UTC)
    return make_envelope("bid.placed", {
        "auction_id": auction["id"], "bid_id": str(uuid.uuid4()), "seq": seq,
        "current_price": price, "currency": auction["currency"], "bid_count": bid_count,
        "leader_id": leader_id, "min_next_bid": price + 50, "ends_at": auction["ends_at"],
        "placed_at": isoformat(now), "reserve_met": reserve_met, "leader_name": "a***n",
        "buy_now_available": buy_now_available,
    }, producer="bidding_service")


def auction_ended(auction: dict, seq: int, winner_id: str | None, price: int | None,
                  bid_count: int | None = None) -> dict:
    """An ``auction.ended`` envelope as bidding_service publishes it (``bid_count``: one bid
    for a sale, none otherwise, unless given)."""
    return make_envelope("auction.ended", {
        "auction_id": auction["id"], "seq": seq,
        "outcome": "sold" if winner_id else "unsold_no_bids", "winner_id": winner_id,
        "price": price, "currency": auction["currency"], "title": auction["title"],
        "seller_id": auction["seller_id"], "ended_at": isoformat(datetime.now(UTC)),
        "bid_count": bid_count if bid_count is not None else int(winner_id is not None),
    }, producer="bidding_service")


def inbox_rows(db, event_id: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM auctions.inbox WHERE event_id = :e"),
                            {"e": event_id}).scalar_one()


# --- listing an item ----------------------------------------------------------------------


def test_a_new_listing_is_live_at_its_starting_price(client, account):
    seller = account("seller")
    answer = create(client, seller, starting_price=2500)
    assert answer.status_code == 201
    auction = answer.get_json()
    assert uuid.UUID(auction["id"])
    assert auction["seller_id"] == seller.id
    assert auction["status"] == "live"
    assert auction["current_price"] == auction["starting_price"] == 2500
    assert auction["bid_count"] == 0
    assert auction["leader_id"] is None
    public = {field: value for field, value in auction.items() if field != "reserve_price"}
    assert show(client, auction["id"]) == public


def test_a_new_listing_is_announced_with_auction_created(client, db, account):
    seller = account("seller")
    auction = list_item(client, seller, title="Brass lamp", category="home")
    [event] = outbox_events(db, auction["id"], "auction.created")
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"]["seller_id"] == seller.id
    assert (event["data"]["title"], event["data"]["category"]) == ("Brass lamp", "home")
    assert event["data"]["starting_price"] == 1000


def test_an_auction_shorter_than_the_minimum_is_refused_naming_ends_at(client, catalog,
                                                                         account):
    minimum = catalog[0].extensions["settings"].auction_min_duration_seconds
    answer = create(client, account("seller"), ends_at=in_(minimum - 10))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "validation_error"
    assert [d["field"] for d in answer.get_json()["error"]["details"]] == ["ends_at"]


@pytest.mark.parametrize("fields, field", [
    ({"category": "spaceships"}, "category"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "EURO"}, "currency"),
    ({"starting_price": 0}, "starting_price"),
    ({"starting_price": -100}, "starting_price"),
    ({"starting_price": 12.5}, "starting_price"),
    ({"starting_price": 10**13}, "starting_price"),
    ({"title": None}, "title"),
    ({"title": "ab"}, "title"),
    ({"ends_at": "2030-01-01T12:00:00"}, "ends_at"),
    ({"ends_at": "next tuesday"}, "ends_at"),
    ({"ends_at": in_(-3600)}, "ends_at"),
    ({"starts_at": in_(-3600)}, "starts_at"),
])
def test_a_bad_listing_is_refused_naming_the_field(client, account, fields, field):
    answer = create(client, account("seller"), **fields)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["code"] == "validation_error"
    assert field in {d["field"] for d in answer.get_json()["error"]["details"]}


def test_a_listing_missing_its_title_is_refused(client, account):
    body = listing()
    del body["title"]
    answer = client.post("/api/auctions", json=body, headers=account("seller").headers)
    assert answer.status_code == 422
    assert [d["field"] for d in answer.get_json()["error"]["details"]] == ["title"]


def test_a_listing_that_starts_later_is_scheduled(client, account):
    auction = list_item(client, account("seller"), starts_at=in_(3600), ends_at=in_(7200))
    assert auction["status"] == "scheduled"


def test_listing_an_item_needs_a_token(client):
    answer = client.post("/api/auctions", json=listing())
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthorized"


# --- reading the catalog ------------------------------------------------------------------


def test_an_unknown_auction_is_404(client):
    answer = client.get(f"/api/auctions/{uuid.uuid4()}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "auction_not_found"


def test_the_categories_are_listed_with_their_names(client):
    answer = client.get("/api/auctions/categories")
    assert answer.status_code == 200
    categories = {c["id"]: c["name"] for c in answer.get_json()["items"]}
    assert categories["electronics"] == "Electronics"
    assert "home" in categories


def test_browsing_pages_through_every_listing_once_newest_first(client, account):
    seller = account("seller")
    created = [list_item(client, seller, title=f"Item {i}")["id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, "seller_id": seller.id, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/api/auctions", query_string=query)
        assert answer.status_code == 200
        page = answer.get_json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    assert pages == 3


@pytest.mark.parametrize("query, field", [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"seller_id": "not-a-uuid"}, "seller_id"),
    ({"status": "sold"}, "status"),
])
def test_browsing_with_a_bad_query_is_refused_naming_the_parameter(client, query, field):
    answer = client.get("/api/auctions", query_string=query)
    assert answer.status_code == 422
    assert [d["field"] for d in answer.get_json()["error"]["details"]] == [field]


def test_browsing_with_a_bad_cursor_is_refused(client):
    for cursor in ("not-a-cursor", "bm90IGEgY3Vyc29y", "%%%"):
        answer = client.get("/api/auctions", query_string={"cursor": cursor})
        assert answer.status_code == 422, cursor
        assert answer.get_json()["error"]["code"] == "validation_error"
        assert [d["field"] for d in answer.get_json()["error"]["details"]] == ["cursor"]


# --- the read model follows bidding -------------------------------------------------------


def test_a_placed_bid_updates_price_bid_count_and_leader(client, account, deliver):
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller)
    deliver(bid_placed(auction, seq=1, price=1000, leader_id=ann.id, bid_count=1))
    state = show(client, auction["id"], ann)
    assert (state["current_price"], state["bid_count"], state["leader_id"]) == (1000, 1, ann.id)
    assert state["leader_name"] == "a***n", "the leader's masked name, for listing and search"


def test_a_stale_bid_event_arriving_late_changes_nothing(client, account, deliver):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction = list_item(client, seller)
    older = bid_placed(auction, seq=1, price=1000, leader_id=ann.id, bid_count=1)
    newer = bid_placed(auction, seq=2, price=1550, leader_id=bob.id, bid_count=2)
    deliver(newer)
    deliver(older)
    state = show(client, auction["id"], bob)
    assert (state["current_price"], state["bid_count"], state["leader_id"]) == (1550, 2, bob.id)


def test_bids_on_many_listings_arriving_together_each_show_their_newest(client, db, account):
    """The read model applies what arrived together at once (one statement for the bids of
    many auctions): each listing shows its newest bid, whatever the order within the batch,
    a stale one changes nothing, and an event of an older version, without the optional
    fields, leaves what the listing showed of them."""
    consumer = read_model_consumer(db)
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    lamp, chair, clock = (list_item(client, seller) for _ in range(3))
    consumer(bid_placed(clock, seq=1, price=1000, leader_id=ann.id, bid_count=1,
                        reserve_met=True, buy_now_available=True))
    without_optional = bid_placed(clock, seq=2, price=1200, leader_id=bob.id, bid_count=2)
    for field in ("reserve_met", "leader_name", "buy_now_available"):
        del without_optional["data"][field]
    batch = [bid_placed(lamp, seq=2, price=1550, leader_id=bob.id, bid_count=2),
             bid_placed(chair, seq=1, price=1000, leader_id=ann.id, bid_count=1),
             bid_placed(lamp, seq=1, price=1000, leader_id=ann.id, bid_count=1),
             without_optional,
             bid_placed(lamp, seq=3, price=2100, leader_id=ann.id, bid_count=3,
                        reserve_met=False)]
    assert consumer.handle_batch(batch) == [None] * 5
    shown = {name: show(client, auction["id"], leader)  # a bidder sees whether they lead
             for name, auction, leader in (("lamp", lamp, ann), ("chair", chair, ann),
                                           ("clock", clock, bob))}
    figures = {name: (state["current_price"], state["bid_count"], state["leader_id"])
               for name, state in shown.items()}
    assert figures == {"lamp": (2100, 3, ann.id), "chair": (1000, 1, ann.id),
                       "clock": (1200, 2, bob.id)}
    with db.engine.connect() as conn:
        kept = conn.execute(text(
            "SELECT id::text, reserve_met, leader_name, buy_now_available FROM auctions.auctions"
            " WHERE id IN (:lamp, :clock)"), {"lamp": lamp["id"], "clock": clock["id"]}).all()
    assert {row[0]: tuple(row[1:]) for row in kept} == {
        lamp["id"]: (False, "a***n", False), clock["id"]: (True, "a***n", True)}
    consumer.handle_batch([bid_placed(lamp, seq=2, price=1550, leader_id=bob.id, bid_count=2)])
    assert show(client, lamp["id"])["current_price"] == 2100, "a stale bid changes nothing"


def test_a_redelivered_event_is_applied_once(client, db, account, deliver):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction = list_item(client, seller)
    first = bid_placed(auction, seq=1, price=1000, leader_id=ann.id, bid_count=1)
    second = bid_placed(auction, seq=2, price=1550, leader_id=bob.id, bid_count=2)
    for envelope in (first, first, second, first, second):
        deliver(envelope)
    state = show(client, auction["id"], bob)
    assert (state["current_price"], state["bid_count"], state["leader_id"]) == (1550, 2, bob.id)
    assert inbox_rows(db, first["id"]) == inbox_rows(db, second["id"]) == 1


def test_the_end_of_an_auction_shows_its_outcome_and_winner(client, account, deliver):
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller)
    deliver(bid_placed(auction, seq=1, price=1000, leader_id=ann.id, bid_count=1))
    deliver(auction_ended(auction, seq=2, winner_id=ann.id, price=1000))
    state = show(client, auction["id"], ann)
    assert (state["status"], state["outcome"], state["winner_id"]) == ("ended", "sold", ann.id)
    assert state["current_price"] == 1000
    ended = client.get("/api/auctions", query_string={"seller_id": seller.id, "status": "ended"})
    assert [item["id"] for item in ended.get_json()["items"]] == [auction["id"]]


def test_an_auction_without_bids_ends_unsold_at_its_starting_price(client, account, deliver):
    seller = account("seller")
    auction = list_item(client, seller, starting_price=700)
    deliver(auction_ended(auction, seq=1, winner_id=None, price=None))
    state = show(client, auction["id"])
    assert (state["status"], state["outcome"], state["winner_id"]) == (
        "ended", "unsold_no_bids", None)
    assert state["current_price"] == 700
