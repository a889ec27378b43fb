"""Catalog rules, free of Flask and SQL: what a listing may say, when it may change, its status."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from auction_common.problems import Problem

#: The fixed list of categories (id, name), served at ``GET /api/auctions/categories``.
CATEGORIES: list[tuple[str, str]] = [
    ("electronics", "Electronics"),
    ("fashion", "Fashion"),
    ("home", "Home & Garden"),
    ("collectibles", "Collectibles"),
    ("art", "Art"),
    ("sports", "Sports"),
    ("toys", "Toys & Hobbies"),
    ("books", "Books"),
    ("music", "Music"),
    ("vehicles", "Vehicles"),
    ("other", "Other"),
]
CATEGORY_IDS = {category for category, _ in CATEGORIES}
#: An item's condition (id, name); optional on a listing.
CONDITIONS: list[tuple[str, str]] = [
    ("new", "New"),
    ("like_new", "Like new"),
    ("used", "Used"),
    ("for_parts", "For parts or not working"),
]
CONDITION_IDS = {condition for condition, _ in CONDITIONS}
#: Currencies accepted for listings (ISO 4217 codes), all with two decimals.
CURRENCIES = {"EUR", "USD", "GBP", "CHF", "CAD", "AUD"}

TITLE_MIN, TITLE_MAX = 3, 120
#: What the seller writes when listing or editing before the first bid.
DESCRIPTION_MAX = 5_000
#: One addition after the first bid, and the description with every addition.
ADDITION_MAX = 1_000
DESCRIPTION_TOTAL_MAX = 10_000
#: No price, reserve, Buy-It-Now price or increment above this (minor units).
MAX_PRICE = 10**12
MAX_INCREMENT_BANDS = 20
ANTI_SNIPING_DEFAULT, ANTI_SNIPING_MAX = 120, 3_600

STATUSES = ("scheduled", "live", "ended", "cancelled")


@dataclass(frozen=True)
class ScheduleLimits:
    """How short, how long and how far ahead a listing may be scheduled (from settings)."""

    min_duration_seconds: int
    max_duration_seconds: int
    max_start_delay_seconds: int


@dataclass(frozen=True)
class Terms:
    """What a seller decides about a listing: the item, its pricing rules and its schedule."""

    title: str
    description: str
    category: str
    condition: str | None
    currency: str
    starting_price: int
    reserve_price: int | None
    buy_now_price: int | None
    #: ``[{"from": minor units, "increment": minor units}, ...]``; ``None`` = the default table.
    increments: list[dict] | None
    anti_sniping_seconds: int
    starts_at: datetime
    ends_at: datetime

    def changed(self, **changes) -> Terms:
        """These terms with ``changes`` applied."""
        return replace(self, **changes)


class ListingInvalid(Problem):
    """A listing breaks one or more rules; each detail names its field."""

    def __init__(self, details: list[dict[str, str]]):
        message = details[0]["message"] if len(details) == 1 else "Some fields are invalid."
        super().__init__(422, "validation_error", message, details)


def plain_text_problem(text: str, multiline: bool) -> str | None:
    """Why ``text`` is not plain text we store (control characters), or ``None``.

    Markup is not refused: it is shown as the characters it is, never interpreted."""
    allowed = {"\n", "\r", "\t"} if multiline else set()
    for char in text:
        if char not in allowed and unicodedata.category(char) in {"Cc", "Cs"}:
            return "must be plain text without control characters"
    return None


def increments_problem(bands: list[dict]) -> str | None:
    """Why an increment table is malformed, or ``None``: bands ascend from 0, increments > 0."""
    if not 1 <= len(bands) <= MAX_INCREMENT_BANDS:
        return f"give between 1 and {MAX_INCREMENT_BANDS} bands, or null for the default table"
    if bands[0]["from"] != 0:
        return "the first band must start from 0"
    for lower, upper in zip(bands, bands[1:], strict=False):
        if upper["from"] <= lower["from"]:
            return "bands must be in strictly ascending order of 'from'"
    return None


def resolve_end(starts_at: datetime, ends_at: datetime | None,
                duration_seconds: int | None) -> datetime:
    """The end of a listing given either ``ends_at`` or a duration from ``starts_at``."""
    if ends_at is not None:
        return ends_at
    assert duration_seconds is not None
    return starts_at + timedelta(seconds=duration_seconds)


def listing_problems(terms: Terms, now: datetime, limits: ScheduleLimits,
                     check_start: bool = True, check_end: bool = True) -> list[dict[str, str]]:
    """Every rule ``terms`` break that involves more than one field, each naming a field.

    An edit that keeps the start (which may lie in the past by now) passes ``check_start``
    false; one that keeps the whole schedule (however little time is left) ``check_end``."""
    problems: list[dict[str, str]] = []

    def problem(field: str, message: str) -> None:
        problems.append({"field": field, "message": message})

    if check_start:
        if terms.starts_at < now - timedelta(minutes=5):
            problem("starts_at", "starts_at must not be in the past.")
        elif terms.starts_at > now + timedelta(seconds=limits.max_start_delay_seconds):
            days = limits.max_start_delay_seconds // 86_400
            problem("starts_at", f"starts_at may be at most {days} days ahead.")
    if check_end:
        remaining = (terms.ends_at - max(terms.starts_at, now)).total_seconds()
        if remaining < limits.min_duration_seconds:
            problem("ends_at", f"The auction must last at least "
                               f"{limits.min_duration_seconds} seconds.")
        elif (terms.ends_at - terms.starts_at).total_seconds() > limits.max_duration_seconds:
            problem("ends_at", f"The auction may last at most {limits.max_duration_seconds} "
                               "seconds.")
    if terms.reserve_price is not None and terms.reserve_price <= terms.starting_price:
        problem("reserve_price", "reserve_price must be above starting_price.")
    if terms.buy_now_price is not None:
        floor = max(terms.starting_price, terms.reserve_price or 0)
        if terms.buy_now_price <= floor:
            problem("buy_now_price", "buy_now_price must be above starting_price and "
                                     "reserve_price.")
    if len(terms.description) > DESCRIPTION_TOTAL_MAX:
        problem("description", f"The description may have at most {DESCRIPTION_TOTAL_MAX} "
                               "characters.")
    return problems


def check_listing(terms: Terms, now: datetime, limits: ScheduleLimits,
                  check_start: bool = True, check_end: bool = True) -> None:
    """Raise :class:`ListingInvalid` unless ``terms`` keep every cross-field rule."""
    problems = listing_problems(terms, now, limits, check_start, check_end)
    if problems:
        raise ListingInvalid(problems)


def public_status(starts_at: datetime, ends_at: datetime, now: datetime,
                  cancelled: bool, ended: bool) -> str:
    """``scheduled``, ``live``, ``ended`` or ``cancelled``, as a bidder sees it."""
    if cancelled:
        return "cancelled"
    if ended or now >= ends_at:
        return "ended"
    if now < starts_at:
        return "scheduled"
    return "live"


#: The only change a seller may make once a listing has bids.
EDITABLE_AFTER_FIRST_BID = frozenset({"append_description"})


def check_seller(seller_id: object, user_id: str) -> None:
    """403 unless ``user_id`` is the seller's (``seller_id``, a UUID or its text)."""
    if str(seller_id) != user_id:
        raise Problem(403, "not_your_auction", "Only the seller may change this listing.")


def check_changeable(status: str, bid_count: int, changes: set[str],
                     editable_after_first_bid: frozenset[str]) -> None:
    """Raise unless a seller may change ``changes`` of a listing in this state.

    Everything may change until the first bid; after it, only ``editable_after_first_bid``
    (eBay's rule: bidders bid on what they saw). A closed listing never changes."""
    if status == "cancelled":
        raise Problem(409, "auction_cancelled", "The listing was cancelled.")
    if status == "ended":
        raise Problem(409, "auction_ended", "The auction has ended.")
    locked = sorted(changes - editable_after_first_bid)
    if bid_count > 0 and locked:
        raise Problem(409, "listing_locked",
                      "The listing has bids: only the description can be added to.",
                      [{"field": field, "message": "locked after the first bid"}
                       for field in locked])


def append_to_description(description: str, addition: str, at: datetime) -> str:
    """The description with a dated addition, as eBay shows a seller's later notes."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    heading = f"Added by the seller on {stamp}:"
    return f"{description.rstrip()}\n\n{heading}\n{addition.strip()}".lstrip()


_LAST_WORD = re.compile(r"(\w+)$")
_TRAILING_OR = re.compile(r"(?:^|\s)or\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SearchTerms:
    """A search box's text split for PostgreSQL: ``complete`` for ``websearch_to_tsquery``,
    ``prefix`` the word being typed (matched as a prefix), ``either`` when they are OR-ed."""

    complete: str
    prefix: str | None
    either: bool = False


def split_search(text: str) -> SearchTerms:
    """Split what a user typed so that the last word matches as a prefix ("vintage cam" finds
    "vintage camera"), unless it is finished (a space follows), quoted or negated."""
    match = _LAST_WORD.search(text)
    if match is None or text.count('"') % 2 == 1:
        return SearchTerms(text, None)
    before = text[: match.start()]
    if before.endswith("-") and (len(before) == 1 or before[-2].isspace()):
        return SearchTerms(text, None)
    if _TRAILING_OR.search(before):
        return SearchTerms(_TRAILING_OR.sub("", before), match.group(1), either=True)
    return SearchTerms(before, match.group(1))
