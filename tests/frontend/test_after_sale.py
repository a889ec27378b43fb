"""The frontend's parts of what follows an auction's end: relisting, the badge, unsubscribing
(pure functions, and the pages a visitor reaches without the API)."""

from __future__ import annotations

import pytest

from frontend.listing_form import relist_form
from frontend.presenters import auction_view, can_relist


def listing(**fields) -> dict:
    return {"id": "a1", "seller_id": "s1", "title": "Brass lamp", "description": "Old.",
            "category": "home", "condition": "used", "currency": "EUR", "starting_price": 1000,
            "reserve_price": 5000, "buy_now_price": None, "anti_sniping_seconds": 120,
            "starts_at": "2026-11-01T10:00:00Z", "ends_at": "2026-11-01T12:00:00Z",
            "status": "ended", "outcome": "unsold_reserve_not_met", **fields}


def test_the_relist_form_starts_from_the_old_listing_and_its_duration():
    form = relist_form(listing())
    assert (form["title"], form["starting_price"], form["reserve_price"]) == (
        "Brass lamp", "10.00", "50.00")
    assert (form["buy_now_price"], form["currency"], form["duration_minutes"]) == (
        "", "EUR", "120")
    assert "addition" not in form


@pytest.mark.parametrize("fields, relistable", [
    ({}, True), ({"outcome": "unsold_no_bids"}, True),
    ({"status": "cancelled", "outcome": None}, True),
    ({"outcome": "sold"}, False), ({"status": "live", "outcome": None}, False),
])
def test_only_an_unsold_or_withdrawn_listing_can_be_relisted(fields, relistable):
    assert can_relist(listing(**fields)) is relistable
    seller_page = auction_view(listing(**fields), None, {"id": "s1"}, "2026-11-01T13:00:00Z")
    assert seller_page["can_relist"] is relistable
    bidder_page = auction_view(listing(**fields), None, {"id": "b1"}, "2026-11-01T13:00:00Z")
    assert bidder_page["can_relist"] is False


def test_the_badge_count_is_zero_for_a_visitor(client):
    assert client.get("/me/notifications/unread.json").get_json() == {"count": 0}


def test_an_unsubscribe_link_without_a_token_says_it_is_not_valid(client):
    answer = client.get("/unsubscribe")
    assert answer.status_code == 400
    assert "not valid" in answer.get_data(as_text=True)


def test_relisting_needs_a_signed_in_seller(client):
    answer = client.get("/sell?relist=a1")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
