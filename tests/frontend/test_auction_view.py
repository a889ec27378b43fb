"""What the auction page and the lists show, from the API's answers: reserve, Buy It Now, the
outcome, the bid history, My bids."""

from __future__ import annotations

import pytest

from frontend.presenters import (
    auction_view,
    ended_outcome,
    history_lines,
    listing_card,
    my_bid_rows,
    reserve_label,
)

LISTING = {"id": "a1", "title": "Lamp", "description": "Brass", "seller_id": "s1",
           "currency": "EUR", "starting_price": 1000, "ends_at": "2025-01-31T13:00:00Z",
           "status": "live", "current_price": 1000, "bid_count": 0, "category": "home",
           "condition": "like_new", "has_reserve": True, "reserve_met": False,
           "buy_now_price": 9000, "buy_now_available": True, "images": [], "watchers_count": 2}
STATE = {"auction_id": "a1", "status": "live", "current_price": 1000, "currency": "EUR",
         "bid_count": 0, "leader_id": None, "min_next_bid": 1000, "has_reserve": True,
         "reserve_met": False, "buy_now_price": 9000, "buy_now_available": True,
         "ends_at": "2025-01-31T13:00:00Z", "seq": 0, "outcome": None, "winner_id": None,
         "server_time": "2025-01-31T12:00:00Z"}
ANN = {"id": "u1", "display_name": "Ann"}
SELLER = {"id": "s1", "display_name": "Sam"}


def view(state: dict | None = STATE, user: dict | None = ANN, **listing) -> dict:
    return auction_view({**LISTING, **listing}, state, user, "2025-01-31T12:00:00Z")


def test_a_reserve_not_yet_met_is_said_in_public_and_buy_it_now_is_offered():
    page = view()
    assert page["reserve_label"] == "Reserve not met"
    assert (page["buy_now_offered"], page["buy_now_price"]) == (True, 9000)
    assert page["condition"] == "Like new"
    assert page["reserve_price"] is None, "only the seller sees the reserve"


def test_once_the_live_state_withdraws_buy_it_now_the_button_goes():
    page = view({**STATE, "buy_now_price": None, "buy_now_available": False,
                 "reserve_met": True, "bid_count": 1, "leader_id": "u2"})
    assert page["buy_now_offered"] is False
    assert page["reserve_label"] == "Reserve met"


def test_buy_it_now_is_offered_exactly_when_bidding_says_so():
    """Bidding decides (before the start it says no); the page never works it out again, so
    a live state that still offers it after the reserve was met shows it."""
    scheduled = {**STATE, "status": "scheduled", "buy_now_price": None,
                 "buy_now_available": False}
    assert view(scheduled)["buy_now_offered"] is False
    assert view({**STATE, "reserve_met": True, "bid_count": 1})["buy_now_offered"] is True


def test_without_live_state_yet_the_catalog_says_whether_buy_it_now_is_available():
    assert view(None)["buy_now_offered"] is True
    assert view(None, buy_now_available=False)["buy_now_offered"] is False


def test_the_seller_sees_the_reserve_and_may_change_everything_before_the_first_bid():
    page = view(user=SELLER, reserve_price=5000)
    assert page["is_seller"] and page["reserve_price"] == 5000
    assert page["can_edit"] and page["can_change_everything"]
    locked = view({**STATE, "bid_count": 1, "leader_id": "u1"}, user=SELLER)
    assert locked["can_edit"] and not locked["can_change_everything"]


def test_the_highest_bidder_is_named_as_the_history_masks_names():
    page = view({**STATE, "bid_count": 1, "leader_id": "u2", "leader_name": "B***b"})
    assert (page["leader_name"], page["is_leader"]) == ("B***b", False)


def test_a_listing_without_a_reserve_says_nothing_about_it():
    page = view({**STATE, "has_reserve": False, "reserve_met": True}, has_reserve=False)
    assert page["reserve_label"] == ""


def test_the_winner_is_told_they_won():
    ended = {**STATE, "status": "ended", "outcome": "sold", "winner_id": "u1",
             "current_price": 4200, "buy_now_price": None}
    page = view(ended)
    assert page["closed"] and page["is_winner"]
    assert page["outcome"] == "You won this auction for EUR 42.00."
    assert view(ended, user=SELLER)["outcome"] == "Your item sold for EUR 42.00."
    assert view(ended, user=None)["outcome"] == "This auction has ended: sold for EUR 42.00."


def test_a_cancelled_listing_is_shown_as_cancelled():
    page = view({**STATE, "status": "ended", "outcome": "cancelled"})
    assert (page["status"], page["closed"]) == ("cancelled", True)
    assert page["outcome"] == "The seller cancelled this auction."
    assert view(None, status="cancelled")["status"] == "cancelled"


@pytest.mark.parametrize(("outcome", "said"), [
    ("sold", "This auction has ended: sold for EUR 12.50."),
    ("unsold_no_bids", "This auction has ended without any bids."),
    ("unsold_reserve_not_met", "This auction has ended: the reserve was not met."),
    ("cancelled", "The seller cancelled this auction."),
    (None, "This auction has ended. The result will be shown in a moment."),
])
def test_every_outcome_of_auction_ended_is_said_in_words(outcome, said):
    assert ended_outcome(outcome, "u9", 1250, "EUR", "u1") == said


def test_reserve_labels():
    assert reserve_label(True, False) == "Reserve not met"
    assert reserve_label(True, True) == "Reserve met"
    assert reserve_label(False, True) == ""


def test_the_history_panel_shows_the_newest_line_first_and_marks_automatic_bids():
    items = [
        {"bid_id": "b1", "seq": 1, "bidder": "A***e", "current_price": 1000,
         "placed_at": "2025-01-31T12:00:05Z", "auto": False},
        {"bid_id": "b2", "seq": 2, "bidder": "A***e", "current_price": 3000,
         "placed_at": "2025-01-31T12:01:00Z", "auto": True},
        {"bid_id": "b2", "seq": 2, "bidder": "B***b", "current_price": 3100,
         "placed_at": "2025-01-31T12:01:00Z", "auto": False},
    ]
    lines = history_lines(items, "EUR")
    assert [(line["bidder"], line["price"], line["auto"]) for line in lines] == [
        ("B***b", "EUR 31.00", False), ("A***e", "EUR 30.00", True),
        ("A***e", "EUR 10.00", False)]
    assert lines[-1]["placed_label"].endswith(" ago · 31 Jan 12:00:05 UTC")


def test_my_bids_say_the_standing_in_words():
    rows = my_bid_rows([
        {"auction_id": "a1", "title": "Lamp", "status": "leading", "your_max": 3000,
         "current_price": 2000, "currency": "EUR", "ends_at": "x", "outcome": None},
        {"auction_id": "a2", "title": "Vase", "status": "lost", "your_max": 3000,
         "current_price": 5000, "currency": "EUR", "ends_at": "x", "outcome": "sold"},
    ])
    assert [row["standing"] for row in rows] == ["Highest bidder", "Lost"]
    assert rows[1]["outcome_text"] == "This auction has ended: sold for EUR 50.00."


def test_a_card_shows_the_first_photo():
    image = {"id": "i1", "thumb_url": "/media/t.webp", "thumb_width": 400, "thumb_height": 300}
    assert listing_card({**LISTING, "images": [image]})["thumb"] == image
    assert listing_card(LISTING)["thumb"] is None
