"""The browser's copies of the server's words, pinned to their owners: the page's script says
money as the pages do (``format_money``, with the exponent the page is given), spans as
``frontend/times.py`` does, and how an auction ended as ``frontend/presenters.py`` does, for
the same inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

from frontend import listing_form, presenters, times
from tests.support.node import call_each

# What the pages format money with (presenters imports it from its owner).
currency_exponent = presenters.currency_exponent
format_money = presenters.format_money
major_units = presenters.major_units

AMOUNTS = (None, 0, 1, 5, 99, 100, 1250, 99999, 100000, 123456789, -1, -1250, -123456789)
MONEY_CURRENCIES = (*listing_form.CURRENCIES, "JPY", "KRW", "KWD", "XYZ")


def test_money_is_said_as_the_server_says_it():
    cases = [[amount, currency, currency_exponent(currency)]
             for amount, currency in product(AMOUNTS, MONEY_CURRENCIES)]
    expected = [format_money(amount, currency) for amount, currency, _ in cases]
    assert call_each("money.js", "formatMoney", cases) == expected


def test_the_bid_field_takes_the_amount_as_the_server_writes_it():
    cases = [[amount, currency_exponent(currency)]
             for amount, currency in product(AMOUNTS, MONEY_CURRENCIES) if amount is not None]
    expected = [major_units(amount, currency)
                for amount, currency in product(AMOUNTS, MONEY_CURRENCIES) if amount is not None]
    assert call_each("money.js", "majorUnits", cases) == expected


def test_time_left_is_said_as_the_server_says_it():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    spans = [timedelta(seconds=s) for s in (1, 9, 59, 60, 61, 605, 3599, 3600, 3661, 86399,
                                            86400, 90061, 40 * 86400)]
    cases = [[int(span.total_seconds() * 1000) + 300] for span in spans]
    expected = [times.time_left(now + span, now) for span in spans]
    assert call_each("time.js", "formatRemaining", cases) == expected


def test_how_an_auction_ended_is_said_as_the_server_says_it():
    outcomes = ("sold", "unsold_reserve_not_met", "unsold_no_bids", "cancelled", None, "other")
    viewers = (("winner", False), ("seller", True), ("someone", False), (None, False))
    cases, expected = [], []
    for outcome, (user, is_seller), currency, price in product(
            outcomes, viewers, ("EUR", "JPY"), (123456, 0)):
        cases.append([outcome, "winner", price, currency, currency_exponent(currency), user,
                      is_seller])
        expected.append(presenters.ended_outcome(outcome, "winner", price, currency, user,
                                                 is_seller))
    assert call_each("rules.js", "endedOutcome", cases) == expected
