"""One owner per rule: where a copy must exist across a service boundary (the frontend's
forms and fallbacks, which cannot import the catalog), it is pinned here to its owner; where
no copy is needed, every part uses the owner."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from auction_common.money import currency_exponent, format_money, major_units, parse_minor_units
from auction_common.problems import error_body
from auction_service import api_models, domain
from auction_service.settings import AuctionSettings
from frontend import listing_form, presenters
from notification_service.messages import outbid_message, won_message


def test_the_frontend_offers_the_catalog_s_categories_conditions_and_currencies():
    assert list(presenters.FALLBACK_CATEGORIES) == domain.CATEGORIES
    assert list(presenters.FALLBACK_CONDITIONS) == domain.CONDITIONS
    assert set(listing_form.CURRENCIES) == domain.CURRENCIES


def test_the_forms_check_the_catalog_s_limits():
    assert (listing_form.ANTI_SNIPING_DEFAULT, listing_form.ANTI_SNIPING_MAX) == (
        domain.ANTI_SNIPING_DEFAULT, domain.ANTI_SNIPING_MAX)
    assert (listing_form.TITLE_MIN, listing_form.ADDITION_MAX) == (
        domain.TITLE_MIN, domain.ADDITION_MAX)
    default_max = AuctionSettings.model_fields["auction_max_duration_seconds"].default
    assert listing_form.MAX_DURATION_MINUTES * 60 == default_max


def test_the_api_accepts_exactly_the_domain_s_conditions():
    assert get_args(api_models.Condition) == tuple(c for c, _ in domain.CONDITIONS)


@pytest.mark.parametrize(("currency", "exponent", "minor", "major", "shown"), [
    ("JPY", 0, 1500, "1500", "JPY 1,500"),
    ("EUR", 2, 123456, "1234.56", "EUR 1,234.56"),
    ("KWD", 3, 1234567, "1234.567", "KWD 1,234.567"),
])
def test_money_keeps_each_currency_s_minor_units(currency, exponent, minor, major, shown):
    assert currency_exponent(currency) == exponent
    assert (major_units(minor, currency), format_money(minor, currency)) == (major, shown)
    assert parse_minor_units(major, currency) == minor


@pytest.mark.parametrize(("currency", "minor", "shown"), [
    ("JPY", 1500, "JPY 1,500"), ("EUR", 1250, "EUR 12.50"), ("KWD", 1500, "KWD 1.500"),
])
def test_emails_show_money_as_the_pages_do(currency, minor, shown):
    data = {"title": "Lamp", "auction_id": "a1", "currency": currency,
            "current_price": minor, "min_next_bid": minor, "price": minor}
    assert shown in outbid_message(data, "Ann", "http://x").body
    assert shown in won_message(data, "Ann", "http://x").body


def test_the_gateway_s_own_refusals_are_the_platform_s_error_body():
    """nginx cannot call error_body(); its few literal bodies are pinned to it here."""
    template = Path(__file__).resolve().parents[2] / "gateway" / "nginx.conf.template"
    bodies = re.findall(r"return \d{3} '(\{.*\})';", template.read_text())
    assert len(bodies) >= 4
    for text in bodies:
        error = json.loads(text)["error"]
        assert json.loads(text) == error_body(error["code"], error["message"])
