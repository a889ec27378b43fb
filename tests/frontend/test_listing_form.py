"""The Sell and Edit forms: what the seller typed becomes the catalog API's body, or messages
next to the fields (the API checks every rule again)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frontend.listing_form import (
    NEW_LISTING_FORM,
    description_addition,
    listing_as_form,
    listing_changes,
    new_listing,
)
from frontend.presenters import photo_moves

CATEGORIES = {"collectibles", "home"}
CONDITIONS = {"new", "used"}


def typed(**fields: str) -> dict[str, str]:
    """A filled-in Sell form."""
    return {**NEW_LISTING_FORM, "title": "Brass telescope", "category": "collectibles",
            "starting_price": "20.00", **fields}


def test_a_complete_sell_form_becomes_the_apis_body_in_minor_units():
    body, errors = new_listing(typed(
        description="With its case.", condition="used", reserve_price="50",
        buy_now_price="90.00", anti_sniping_seconds="300", duration_minutes="90",
    ), CATEGORIES, CONDITIONS)
    assert errors == {}
    assert body == {
        "title": "Brass telescope", "description": "With its case.",
        "category": "collectibles", "condition": "used", "currency": "EUR",
        "starting_price": 2000, "reserve_price": 5000, "buy_now_price": 9000,
        "anti_sniping_seconds": 300, "duration_seconds": 5400,
    }


def test_optional_terms_left_empty_are_left_out_of_the_listing():
    body, errors = new_listing(typed(), CATEGORIES, CONDITIONS)
    assert errors == {}
    assert (body["condition"], body["reserve_price"], body["buy_now_price"]) == (None, None, None)
    assert body["anti_sniping_seconds"] == 120 and body["duration_seconds"] == 3600


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"title": ""}, "title", "Give your item a title."),
    ({"title": "ab"}, "title", "at least 3"),
    ({"category": "weapons"}, "category", "Choose a category."),
    ({"condition": "mint"}, "condition", "Choose a condition"),
    ({"currency": "XYZ"}, "currency", "Choose a currency."),
    ({"starting_price": ""}, "starting_price", "Enter an amount."),
    ({"reserve_price": "abc"}, "reserve_price", "such as 12.50"),
    ({"reserve_price": "20.00"}, "reserve_price", "above the starting price"),
    ({"buy_now_price": "15"}, "buy_now_price", "above the starting price and the reserve"),
    ({"reserve_price": "50", "buy_now_price": "40"}, "buy_now_price", "and the reserve"),
    ({"anti_sniping_seconds": "3601"}, "anti_sniping_seconds", "0 (off) to 3600"),
    ({"anti_sniping_seconds": "-1"}, "anti_sniping_seconds", "0 (off) to 3600"),
    ({"duration_minutes": "0"}, "duration_minutes", "1 to 43200"),
    ({"duration_minutes": "1.5"}, "duration_minutes", "whole number of minutes"),
])
def test_a_sell_form_that_breaks_a_rule_says_which_field_and_why(fields, field, message):
    _, errors = new_listing(typed(**fields), CATEGORIES, CONDITIONS)
    assert message in errors[field]


def test_anti_sniping_can_be_turned_off_with_zero():
    body, errors = new_listing(typed(anti_sniping_seconds="0"), CATEGORIES, CONDITIONS)
    assert errors == {} and body["anti_sniping_seconds"] == 0


LISTING = {"id": "a1", "title": "Brass telescope", "description": "Works.",
           "category": "collectibles", "condition": None, "currency": "EUR",
           "starting_price": 2000, "reserve_price": 5000, "buy_now_price": 9000,
           "anti_sniping_seconds": 120, "bid_count": 0}


def test_the_edit_form_starts_with_the_listings_terms_in_major_units():
    form = listing_as_form(LISTING)
    assert (form["starting_price"], form["reserve_price"], form["buy_now_price"]) == (
        "20.00", "50.00", "90.00")
    assert form["condition"] == "" and form["anti_sniping_seconds"] == "120"


def test_an_edit_sends_only_what_changed():
    form = {**listing_as_form(LISTING), "title": "Brass telescope, 1920s", "condition": "used"}
    changes, errors = listing_changes(form, LISTING, CATEGORIES, CONDITIONS)
    assert errors == {}
    assert changes == {"title": "Brass telescope, 1920s", "condition": "used"}


def test_an_emptied_reserve_or_buy_now_price_is_removed():
    form = {**listing_as_form(LISTING), "reserve_price": "", "buy_now_price": ""}
    changes, _ = listing_changes(form, LISTING, CATEGORIES, CONDITIONS)
    assert changes == {"reserve_price": None, "buy_now_price": None}


def test_an_unchanged_edit_form_changes_nothing():
    changes, errors = listing_changes(listing_as_form(LISTING), LISTING, CATEGORIES, CONDITIONS)
    assert (changes, errors) == ({}, {})


def test_an_edit_keeps_the_rules_of_the_sell_form():
    form = {**listing_as_form(LISTING), "buy_now_price": "30.00"}
    _, errors = listing_changes(form, LISTING, CATEGORIES, CONDITIONS)
    assert "buy_now_price" in errors


@pytest.mark.parametrize(("text", "answer"), [
    ("Lens caps included.", ({"append_description": "Lens caps included."}, {})),
    ("", ({}, {"addition": "Write what you want to add."})),
    ("x" * 1001, ({}, {"addition": "Add at most 1,000 characters at a time."})),
])
def test_after_the_first_bid_the_seller_may_only_add_to_the_description(text, answer):
    assert description_addition(text) == answer


# -- when: the seller's own date and time ---------------------------------------------------------

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_an_end_and_a_start_in_the_sellers_zone_are_sent_in_utc_instead_of_a_duration():
    body, errors = new_listing(typed(time_zone="Europe/Berlin", starts_at_local="2026-12-01T08:00",
                                     ends_at_local="2026-12-03T18:30"),
                               CATEGORIES, CONDITIONS, now=NOW)
    assert errors == {}
    assert (body["starts_at"], body["ends_at"]) == ("2026-12-01T07:00:00Z", "2026-12-03T17:30:00Z")
    assert "duration_seconds" not in body


def test_without_a_zone_the_times_are_utc_and_without_an_end_the_duration_counts():
    body, _ = new_listing(typed(ends_at_local="2026-12-03T18:30"), CATEGORIES, CONDITIONS,
                          now=NOW)
    assert body["ends_at"] == "2026-12-03T18:30:00Z"
    body, _ = new_listing(typed(duration_minutes="90"), CATEGORIES, CONDITIONS, now=NOW)
    assert body["duration_seconds"] == 5400 and "ends_at" not in body


@pytest.mark.parametrize(("fields", "field"), [
    ({"ends_at_local": "2026-11-30T08:00"}, "ends_at_local"),  # in the past
    ({"starts_at_local": "2026-12-02T08:00", "ends_at_local": "2026-12-01T08:00"},
     "ends_at_local"),  # before the start
    ({"starts_at_local": "2026-11-29T08:00"}, "starts_at_local"),
    ({"ends_at_local": "tomorrow"}, "ends_at_local"),
])
def test_a_schedule_that_cannot_be_is_refused_next_to_its_field(fields, field):
    _, errors = new_listing(typed(**fields), CATEGORIES, CONDITIONS, now=NOW)
    assert field in errors


def test_each_photo_can_move_one_place_earlier_or_later():
    moves = photo_moves([{"id": "a"}, {"id": "b"}, {"id": "c"}])
    assert moves[0] == {"earlier": None, "later": ["b", "a", "c"]}
    assert moves[2] == {"earlier": ["a", "c", "b"], "later": None}
