"""auction_service on real PostgreSQL: every field of a listing, its views, edits and cancel."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from auction_common.events import EventSchemas, isoformat, make_envelope
from auction_service.app import EVENT_SCHEMAS
from tests.service import test_catalog as base
from tests.service.test_catalog import (
    auction_ended,
    bid_placed,
    create,
    in_,
    list_item,
    listing,
    show,
)
from tests.support.outbox import outbox_events

client, db, deliver = base.client, base.db, base.deliver  # the catalog's fixtures

SCHEMAS = EventSchemas(EVENT_SCHEMAS)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def edit(client, user, auction_id: str, **changes):
    return client.patch(f"/api/auctions/{auction_id}", json=changes,
                        headers=user.headers if user else {})


def cancel(client, user, auction_id: str):
    return client.post(f"/api/auctions/{auction_id}/cancel",
                       headers=user.headers if user else {})


def error_of(answer) -> tuple[int, str, list[str]]:
    body = answer.get_json()["error"]
    return answer.status_code, body["code"], [d["field"] for d in body["details"] or []]


BANDS = [{"from": 0, "increment": 10}, {"from": 1000, "increment": 100},
         {"from": 10000, "increment": 500}]


def full_listing(**fields) -> dict:
    return listing(condition="like_new", starting_price=1000, reserve_price=987_654,
                   buy_now_price=1_500_000, increments=BANDS, anti_sniping_seconds=300,
                   **fields)


def first_bid(deliver, auction: dict, bidder, seq: int = 1, reserve_met: bool = False,
              buy_now_available: bool = False):
    deliver(bid_placed(auction, seq=seq, price=auction["starting_price"], leader_id=bidder.id,
                       bid_count=seq, reserve_met=reserve_met,
                       buy_now_available=buy_now_available))


# --- listing with every field -------------------------------------------------------------


def test_a_listing_keeps_every_pricing_rule_and_the_seller_sees_the_reserve(client, account):
    seller = account("seller")
    auction = list_item(client, seller, **full_listing())
    assert auction["condition"] == "like_new"
    assert (auction["reserve_price"], auction["has_reserve"], auction["reserve_met"]) == (
        987_654, True, False)
    assert (auction["buy_now_price"], auction["buy_now_available"]) == (1_500_000, True)
    assert auction["increments"] == BANDS
    assert auction["anti_sniping_seconds"] == 300
    mine = client.get(f"/api/auctions/{auction['id']}", headers=seller.headers).get_json()
    assert mine["reserve_price"] == 987_654


def test_the_public_never_sees_the_reserve_amount(client, account):
    auction = list_item(client, account("seller"), **full_listing())
    for headers in ({}, account("bidder").headers):
        answer = client.get(f"/api/auctions/{auction['id']}", headers=headers)
        assert "reserve_price" not in answer.get_json()
        assert "987654" not in answer.get_data(as_text=True)
        assert answer.get_json()["has_reserve"] is True
    page = client.get("/api/auctions", query_string={"seller_id": auction["seller_id"]})
    assert "987654" not in page.get_data(as_text=True)


def test_a_listing_without_reserve_shows_no_reserve_state(client, account):
    auction = show(client, list_item(client, account("seller"))["id"])
    assert (auction["has_reserve"], auction["reserve_met"]) == (False, None)


def test_auction_created_carries_the_pricing_rules_for_bidding(client, db, account):
    seller = account("seller")
    auction = list_item(client, seller, **full_listing())
    [event] = outbox_events(db, auction["id"], "auction.created", SCHEMAS)
    data = event["data"]
    assert (data["reserve_price"], data["buy_now_price"]) == (987_654, 1_500_000)
    assert data["increments"] == BANDS
    assert data["anti_sniping_seconds"] == 300
    assert when(data["ends_at"]) == when(auction["ends_at"])


def test_defaults_start_now_with_the_default_increments_and_two_minutes_anti_sniping(
        client, db, account):
    before = datetime.now(UTC)
    auction = list_item(client, account("seller"))
    assert before - timedelta(seconds=1) <= when(auction["starts_at"]) <= datetime.now(UTC)
    assert (auction["increments"], auction["anti_sniping_seconds"]) == (None, 120)
    assert (auction["condition"], auction["buy_now_price"]) == (None, None)
    [event] = outbox_events(db, auction["id"], "auction.created", SCHEMAS)
    assert (event["data"]["increments"], event["data"]["reserve_price"]) == (None, None)


def test_a_duration_instead_of_an_end_counts_from_the_start(client, account):
    body = listing(starts_at=in_(3600), duration_seconds=7200)
    del body["ends_at"]
    answer = client.post("/api/auctions", json=body, headers=account("seller").headers)
    assert answer.status_code == 201, answer.get_json()
    auction = answer.get_json()
    assert when(auction["ends_at"]) - when(auction["starts_at"]) == timedelta(hours=2)
    assert auction["status"] == "scheduled"


def test_anti_sniping_can_be_turned_off(client, account):
    assert list_item(client, account("seller"), anti_sniping_seconds=0)[
        "anti_sniping_seconds"] == 0


def test_the_currency_code_is_taken_in_any_case(client, account):
    assert list_item(client, account("seller"), currency="gbp")["currency"] == "GBP"


def test_a_description_is_plain_text_kept_as_written(client, account):
    words = "<b>Bold</b> & <script>alert(1)</script>\nSecond line\ttabbed"
    assert list_item(client, account("seller"), description=words)["description"] == words


def test_the_conditions_are_listed_with_their_names(client):
    items = client.get("/api/auctions/conditions").get_json()["items"]
    assert [c["id"] for c in items] == ["new", "like_new", "used", "for_parts"]


def test_an_end_without_a_duration_or_with_both_is_refused(client, account):
    seller = account("seller")
    body = listing()
    del body["ends_at"]
    neither = client.post("/api/auctions", json=body, headers=seller.headers)
    assert error_of(neither) == (422, "validation_error", ["ends_at"])
    both = create(client, seller, duration_seconds=3600)
    assert error_of(both) == (422, "validation_error", ["duration_seconds"])


@pytest.mark.parametrize("fields, field", [
    ({"condition": "broken"}, "condition"),
    ({"reserve_price": 1000}, "reserve_price"),
    ({"reserve_price": 500}, "reserve_price"),
    ({"reserve_price": 0}, "reserve_price"),
    ({"buy_now_price": 1000}, "buy_now_price"),
    ({"buy_now_price": 5000, "reserve_price": 5000}, "buy_now_price"),
    ({"buy_now_price": 4000, "reserve_price": 5000}, "buy_now_price"),
    ({"buy_now_price": 10.5}, "buy_now_price"),
    ({"increments": []}, "increments"),
    ({"increments": [{"from": 100, "increment": 10}]}, "increments"),
    ({"increments": [{"from": 0, "increment": 10}, {"from": 0, "increment": 20}]},
     "increments"),
    ({"increments": [{"from": 0, "increment": 10}, {"from": 500, "increment": 20},
                     {"from": 200, "increment": 30}]}, "increments"),
    ({"increments": [{"from": 0, "increment": 0}]}, "increments.0.increment"),
    ({"increments": [{"from": -1, "increment": 5}]}, "increments.0.from"),
    ({"increments": [{"from": 0, "increment": 5, "max": 9}]}, "increments.0.max"),
    ({"increments": [{"from": 0}]}, "increments.0.increment"),
    ({"increments": [{"from": i * 10, "increment": 5} for i in range(21)]}, "increments"),
    ({"increments": "default"}, "increments"),
    ({"anti_sniping_seconds": -1}, "anti_sniping_seconds"),
    ({"anti_sniping_seconds": 3601}, "anti_sniping_seconds"),
    ({"anti_sniping_seconds": "120"}, "anti_sniping_seconds"),
    ({"description": "x" * 5001}, "description"),
    ({"description": "null byte \x00 here"}, "description"),
    ({"description": "bell \x07"}, "description"),
    ({"title": "two\nlines"}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 121}, "title"),
    ({"starting_price": "1000"}, "starting_price"),
    ({"starting_price": True}, "starting_price"),
    ({"ends_at": in_(31 * 24 * 3600)}, "ends_at"),
    ({"starts_at": in_(100 * 24 * 3600), "ends_at": in_(101 * 24 * 3600)}, "starts_at"),
    ({"reserve": 5000}, "reserve"),
])
def test_a_listing_breaking_a_rule_is_refused_naming_the_field(client, account, fields, field):
    answer = create(client, account("seller"), **fields)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["code"] == "validation_error"
    assert field in {d["field"] for d in answer.get_json()["error"]["details"]}, \
        answer.get_json()


@pytest.mark.parametrize("duration, ok", [(59, False), (60, True), (30 * 24 * 3600, True),
                                          (30 * 24 * 3600 + 1, False)])
def test_the_duration_bounds_come_from_the_settings(client, account, duration, ok):
    body = listing(starts_at=in_(600), duration_seconds=duration)
    del body["ends_at"]
    answer = client.post("/api/auctions", json=body, headers=account("seller").headers)
    if ok:
        assert answer.status_code == 201, answer.get_json()
    else:
        assert error_of(answer) == (422, "validation_error", ["ends_at"])


def test_a_start_far_in_the_future_is_refused_not_a_server_error(client, account):
    body = listing(starts_at="9999-12-31T23:00:00Z", duration_seconds=10**6)
    del body["ends_at"]
    answer = client.post("/api/auctions", json=body, headers=account("seller").headers)
    assert error_of(answer) == (422, "validation_error", ["starts_at"])


# --- editing --------------------------------------------------------------------------------


def test_the_seller_edits_everything_before_the_first_bid_and_bidding_hears_of_it(
        client, db, account):
    seller = account("seller")
    auction = list_item(client, seller, **full_listing())
    answer = edit(client, seller, auction["id"], title="Leica M3 camera", category="art",
                  condition="used", starting_price=2000, reserve_price=None,
                  buy_now_price=9000, increments=None, anti_sniping_seconds=60,
                  duration_seconds=3600, description="Now with a case.")
    assert answer.status_code == 200, answer.get_json()
    edited = answer.get_json()
    assert (edited["title"], edited["category"], edited["condition"]) == (
        "Leica M3 camera", "art", "used")
    assert (edited["starting_price"], edited["current_price"]) == (2000, 2000)
    assert (edited["reserve_price"], edited["has_reserve"], edited["buy_now_price"]) == (
        None, False, 9000)
    assert (edited["increments"], edited["anti_sniping_seconds"]) == (None, 60)
    assert when(edited["ends_at"]) - when(edited["starts_at"]) == timedelta(hours=1)
    assert edited["description"] == "Now with a case."
    assert edited["updated_at"] is not None
    [event] = outbox_events(db, auction["id"], "auction.updated", SCHEMAS)
    assert event["data"] == {
        "auction_id": auction["id"], "seller_id": seller.id, "currency": "EUR",
        "title": "Leica M3 camera", "starting_price": 2000,
        "reserve_price": None, "buy_now_price": 9000, "increments": None,
        "anti_sniping_seconds": 60, "starts_at": event["data"]["starts_at"],
        "ends_at": event["data"]["ends_at"], "version": 2}
    assert when(event["data"]["ends_at"]) == when(edited["ends_at"])
    assert show(client, auction["id"])["title"] == "Leica M3 camera"


def test_buy_it_now_added_or_removed_by_an_edit_is_offered_as_bidding_answers(client, account):
    seller = account("seller")
    auction = list_item(client, seller)
    assert auction["buy_now_available"] is False
    added = edit(client, seller, auction["id"], buy_now_price=9000).get_json()
    assert (added["buy_now_price"], added["buy_now_available"]) == (9000, True)
    removed = edit(client, seller, auction["id"], buy_now_price=None).get_json()
    assert (removed["buy_now_price"], removed["buy_now_available"]) == (None, False)


def test_an_edit_bidding_does_not_care_about_emits_nothing(client, db, account):
    seller = account("seller")
    auction = list_item(client, seller)
    assert edit(client, seller, auction["id"], description="Better words.",
                category="art", condition="new").status_code == 200
    assert outbox_events(db, auction["id"], "auction.updated", SCHEMAS) == []


def test_an_edit_is_checked_against_the_listing_as_it_stands(client, account):
    seller = account("seller")
    auction = list_item(client, seller, reserve_price=5000)
    answer = edit(client, seller, auction["id"], buy_now_price=4000)
    assert error_of(answer) == (422, "validation_error", ["buy_now_price"])
    answer = edit(client, seller, auction["id"], starting_price=6000)
    assert error_of(answer) == (422, "validation_error", ["reserve_price"])


def test_a_live_listing_keeps_its_past_start_when_edited(client, account):
    seller = account("seller")
    auction = list_item(client, seller, starts_at=in_(-240))
    assert edit(client, seller, auction["id"], starting_price=1200).status_code == 200
    answer = edit(client, seller, auction["id"], starts_at=in_(-3600))
    assert error_of(answer) == (422, "validation_error", ["starts_at"])


def test_a_scheduled_listing_can_be_started_now(client, account):
    seller = account("seller")
    auction = list_item(client, seller, starts_at=in_(3600), ends_at=in_(7200))
    edited = edit(client, seller, auction["id"], starts_at=None).get_json()
    assert edited["status"] == "live"


@pytest.mark.parametrize("changes, field", [
    ({"currency": "USD"}, "currency"),
    ({"title": None}, "title"),
    ({"starting_price": None}, "starting_price"),
    ({"ends_at": None}, "ends_at"),
    ({"seller_id": str(uuid.uuid4())}, "seller_id"),
    ({"append_description": ""}, "append_description"),
    ({"append_description": "x" * 1001}, "append_description"),
])
def test_an_edit_breaking_a_rule_is_refused_naming_the_field(client, account, changes, field):
    seller = account("seller")
    auction = list_item(client, seller)
    answer = edit(client, seller, auction["id"], **changes)
    assert answer.status_code == 422, answer.get_json()
    assert field in error_of(answer)[2]


def test_only_the_seller_edits(client, account):
    auction = list_item(client, account("seller"))
    answer = edit(client, account("other"), auction["id"], title="Mine now")
    assert error_of(answer) == (403, "not_your_auction", [])
    assert edit(client, None, auction["id"], title="Mine now").status_code == 401
    assert show(client, auction["id"])["title"] == auction["title"]


def test_editing_an_unknown_listing_is_404(client, account):
    answer = edit(client, account("seller"), str(uuid.uuid4()), title="Nothing")
    assert error_of(answer)[:2] == (404, "auction_not_found")


def test_after_the_first_bid_only_the_description_can_be_added_to(client, db, account,
                                                                     deliver):
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller, description="Original words.")
    first_bid(deliver, auction, ann)
    for changes in ({"title": "Other title"}, {"starting_price": 500},
                    {"description": "Rewritten."}, {"ends_at": in_(9000)},
                    {"title": "Other", "append_description": "And a case."}):
        answer = edit(client, seller, auction["id"], **changes)
        status, code, fields = error_of(answer)
        assert (status, code) == (409, "listing_locked"), changes
        assert set(fields) == set(changes) - {"append_description"}
    answer = edit(client, seller, auction["id"], append_description="Comes with a case.")
    assert answer.status_code == 200, answer.get_json()
    description = show(client, auction["id"])["description"]
    assert description.startswith("Original words.\n\nAdded by the seller on ")
    assert description.endswith("UTC:\nComes with a case.")
    assert show(client, auction["id"])["title"] == auction["title"]
    assert outbox_events(db, auction["id"], "auction.updated", SCHEMAS) == []


def test_additions_stop_at_the_total_description_length(client, account, deliver):
    seller = account("seller")
    auction = list_item(client, seller, description="x" * 5000)
    first_bid(deliver, auction, account("ann"))
    answers = [edit(client, seller, auction["id"], append_description="y" * 1000)
               for _ in range(5)]
    assert [a.status_code for a in answers[:4]] == [200] * 4
    assert error_of(answers[4]) == (422, "validation_error", ["description"])


def test_an_ended_or_cancelled_listing_cannot_be_edited(client, account, deliver):
    seller = account("seller")
    ended = list_item(client, seller)
    deliver(auction_ended(ended, seq=1, winner_id=None, price=None))
    assert error_of(edit(client, seller, ended["id"], append_description="More."))[:2] == (
        409, "auction_ended")
    cancelled = list_item(client, seller)
    assert cancel(client, seller, cancelled["id"]).status_code == 200
    assert error_of(edit(client, seller, cancelled["id"], title="Again"))[:2] == (
        409, "auction_cancelled")


# --- cancelling -----------------------------------------------------------------------------


def test_the_seller_cancels_before_the_first_bid_and_bidding_hears_of_it(client, db,
                                                                          account):
    seller = account("seller")
    auction = list_item(client, seller)
    answer = cancel(client, seller, auction["id"])
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "cancelled"
    assert show(client, auction["id"])["status"] == "cancelled"
    [event] = outbox_events(db, auction["id"], "auction.cancelled", SCHEMAS)
    assert event["data"]["seller_id"] == seller.id
    assert when(event["data"]["cancelled_at"]) == when(answer.get_json()["cancelled_at"])
    page = client.get("/api/auctions", query_string={"seller_id": seller.id,
                                                     "status": "cancelled"}).get_json()
    assert [item["id"] for item in page["items"]] == [auction["id"]]


def test_a_cancel_by_someone_else_is_forbidden(client, db, account):
    auction = list_item(client, account("seller"))
    answer = cancel(client, account("mallory"), auction["id"])
    assert error_of(answer) == (403, "not_your_auction", [])
    assert cancel(client, None, auction["id"]).status_code == 401
    assert show(client, auction["id"])["status"] == "live"
    assert outbox_events(db, auction["id"], "auction.cancelled", SCHEMAS) == []


def test_a_listing_with_a_bid_cannot_be_cancelled(client, db, account, deliver):
    seller = account("seller")
    auction = list_item(client, seller)
    first_bid(deliver, auction, account("ann"))
    assert error_of(cancel(client, seller, auction["id"]))[:2] == (409, "listing_locked")
    assert show(client, auction["id"])["status"] == "live"
    assert outbox_events(db, auction["id"], "auction.cancelled", SCHEMAS) == []


def test_cancelling_twice_or_after_the_end_is_a_conflict(client, db, account, deliver):
    seller = account("seller")
    auction = list_item(client, seller)
    cancel(client, seller, auction["id"])
    assert error_of(cancel(client, seller, auction["id"]))[:2] == (409, "auction_cancelled")
    assert len(outbox_events(db, auction["id"], "auction.cancelled", SCHEMAS)) == 1
    ended = list_item(client, seller)
    deliver(auction_ended(ended, seq=1, winner_id=None, price=None))
    assert error_of(cancel(client, seller, ended["id"]))[:2] == (409, "auction_ended")


def test_cancelling_an_unknown_listing_is_404(client, account):
    assert error_of(cancel(client, account("seller"), str(uuid.uuid4())))[:2] == (
        404, "auction_not_found")


# --- the read model: reserve, Buy-It-Now, extensions, outcomes -------------------------------


def test_the_public_learns_when_the_reserve_is_met_but_not_its_amount(client, account,
                                                                        deliver):
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller, reserve_price=5000, buy_now_price=8000)
    first_bid(deliver, auction, ann, reserve_met=False, buy_now_available=True)
    state = show(client, auction["id"])
    assert (state["reserve_met"], state["buy_now_available"]) == (False, True)
    deliver(bid_placed(auction, seq=2, price=5000, leader_id=ann.id, bid_count=2,
                       reserve_met=True))
    state = show(client, auction["id"])
    assert (state["reserve_met"], state["buy_now_available"]) == (True, False)
    assert "reserve_price" not in state


def test_buy_it_now_without_reserve_goes_with_the_first_bid(client, account, deliver):
    seller = account("seller")
    auction = list_item(client, seller, buy_now_price=8000)
    assert show(client, auction["id"])["buy_now_available"] is True
    first_bid(deliver, auction, account("ann"), reserve_met=True)
    assert show(client, auction["id"])["buy_now_available"] is False


def test_the_catalog_shows_bidding_s_newest_word_on_buy_it_now(client, account, deliver):
    """Bidding decides whether Buy It Now is still offered; the catalog keeps what its newest
    event said, whatever order they come in, and never works it out again."""
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller, reserve_price=5000, buy_now_price=8000)
    deliver(bid_placed(auction, seq=2, price=5000, leader_id=ann.id, bid_count=2,
                       reserve_met=True, buy_now_available=False))
    deliver(bid_placed(auction, seq=1, price=1000, leader_id=ann.id, bid_count=1,
                       reserve_met=False, buy_now_available=True))  # late: stale
    assert show(client, auction["id"])["buy_now_available"] is False
    said_yes = list_item(client, seller, reserve_price=5000, buy_now_price=8000)
    deliver(bid_placed(said_yes, seq=1, price=5000, leader_id=ann.id, bid_count=1,
                       reserve_met=True, buy_now_available=True))
    assert show(client, said_yes["id"])["buy_now_available"] is True


def extended(auction: dict, seq: int, ends_at: str) -> dict:
    return make_envelope("auction.extended", {"auction_id": auction["id"], "seq": seq,
                                              "ends_at": ends_at}, producer="bidding_service")


def test_an_extension_moves_the_end_and_a_stale_one_does_not(client, account, deliver):
    seller = account("seller")
    auction = list_item(client, seller)
    later = isoformat(datetime.now(UTC) + timedelta(minutes=30))
    deliver(extended(auction, seq=2, ends_at=later))
    deliver(extended(auction, seq=1, ends_at=isoformat(datetime.now(UTC))))
    assert when(show(client, auction["id"])["ends_at"]) == when(later)


def test_an_auction_ending_below_its_reserve_is_unsold(client, account, deliver):
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller, reserve_price=5000)
    first_bid(deliver, auction, ann, reserve_met=False)
    event = auction_ended(auction, seq=2, winner_id=None, price=None, bid_count=1)
    event["data"]["outcome"] = "unsold_reserve_not_met"
    deliver(event)
    state = show(client, auction["id"])
    assert (state["status"], state["outcome"], state["reserve_met"]) == (
        "ended", "unsold_reserve_not_met", False)
    assert state["winner_id"] is None


def test_a_buy_it_now_sale_ends_the_listing_sold(client, account, deliver):
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller, buy_now_price=8000)
    deliver(auction_ended(auction, seq=1, winner_id=ann.id, price=8000))
    state = show(client, auction["id"], seller)
    assert (state["status"], state["outcome"], state["winner_id"], state["current_price"]) == (
        "ended", "sold", ann.id, 8000)
    assert state["buy_now_available"] is False


@pytest.fixture
def strict(settings_for, bidding):
    """The catalog with a one-hour minimum duration."""
    from auction_service.app import build_parts, create_app
    from auction_service.bidding import BiddingGate, wsgi_transport

    settings = settings_for("auction_service", auction_min_duration_seconds=3600)
    parts = build_parts(settings)
    yield create_app(settings, parts, BiddingGate(wsgi_transport(bidding[0]))).test_client()
    parts.db.engine.dispose()


def test_a_listing_about_to_end_can_still_be_added_to(client, strict, account, deliver):
    """The minimum duration applies to a new schedule, not to what is left of a kept one."""
    seller = account("seller")
    auction = list_item(client, seller, ends_at=in_(600))
    assert edit(strict, seller, auction["id"], title="Renamed lamp").status_code == 200
    first_bid(deliver, auction, account("ann"))
    answer = edit(strict, seller, auction["id"], append_description="Ships tomorrow.")
    assert answer.status_code == 200, answer.get_json()
    assert error_of(edit(strict, seller, auction["id"], append_description="x",
                         ends_at=in_(900)))[:2] == (409, "listing_locked")


# --- a listing sent twice ----------------------------------------------------------------------


def post_with_key(client, seller, key: str | None, body: dict):
    headers = {**seller.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/auctions", json=body, headers=headers)


def listings_of(client, seller) -> list[dict]:
    return client.get("/api/auctions/mine", headers=seller.headers).get_json()["items"]


def test_a_listing_sent_again_with_its_idempotency_key_is_listed_once(client, account):
    seller = account("seller")
    body = listing(title="Double-clicked lamp")
    first = post_with_key(client, seller, "sell-1", body)
    again = post_with_key(client, seller, "sell-1", body)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json(), "the retry gets the first answer"
    assert [item["id"] for item in listings_of(client, seller)] == [first.get_json()["id"]]
    other = post_with_key(client, seller, "sell-1", listing(title="Another lamp"))
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_conflict"
    without = [post_with_key(client, seller, None, body) for _ in range(2)]
    assert len({answer.get_json()["id"] for answer in without}) == 2, "no key, no memory"


def test_concurrent_twins_of_a_listing_make_one_listing(client, account):
    seller = account("seller")
    body = listing(title="Impatient seller's clock")
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post_with_key(client, seller, "twin", body),
                                range(6)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.get_json()["id"] for answer in answers}) == 1
    assert len(listings_of(client, seller)) == 1


def test_a_refused_listing_is_not_remembered_so_the_corrected_one_may_reuse_the_key(client,
                                                                                  account):
    seller = account("seller")
    refused = post_with_key(client, seller, "fix-me", listing(starting_price=0))
    assert refused.status_code == 422
    fixed = post_with_key(client, seller, "fix-me", listing(starting_price=0))
    assert fixed.status_code == 422, "the same mistake is refused the same way"
    assert listings_of(client, seller) == []


@pytest.mark.parametrize("key", ["k" * 201, "k\x00", "tab\there", "k\x85"])
def test_an_idempotency_key_of_the_wrong_length_or_with_a_control_character_is_refused(
        client, account, key):
    seller = account("seller")
    answer = post_with_key(client, seller, key, listing())
    assert answer.status_code == 422
    assert answer.get_json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert listings_of(client, seller) == []


def test_answers_are_forgotten_after_a_day_so_an_old_key_lists_again(client, db, account):
    from sqlalchemy import text

    from auction_common import idempotency

    seller = account("seller")
    body = listing(title="Yesterday's lamp")
    first = post_with_key(client, seller, "old-key", body).get_json()["id"]
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE auctions.idempotency_keys SET created_at = now() - "
                          "interval '25 hours' WHERE user_id = :u"), {"u": seller.id})
    post_with_key(client, seller, "fresh-key", body)
    idempotency.forget_old_answers(db, hours=24)  # global: its count includes other tests' keys
    with db.engine.connect() as conn:
        kept = conn.execute(text("SELECT key FROM auctions.idempotency_keys WHERE user_id = :u"),
                            {"u": seller.id}).scalars().all()
    assert kept == ["fresh-key"], "this seller's old answer is gone, the fresh one kept"
    again = post_with_key(client, seller, "old-key", body).get_json()["id"]
    assert again != first, "a day later the key is a new request"
    assert post_with_key(client, seller, "fresh-key", body).status_code == 201
    assert len(listings_of(client, seller)) == 3, "the fresh key still replays"
