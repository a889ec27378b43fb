"""Catalog rules, free of Flask and SQL."""

from __future__ import annotations

from datetime import datetime, timedelta

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
#: Currencies accepted for listings (ISO 4217), all with two decimals.
CURRENCIES = {"EUR", "USD", "GBP", "CHF", "CAD", "AUD"}


class ListingError(Problem):
    """A listing breaks a rule; names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(422, "validation_error", message, [{"field": field, "message": message}])


def check_schedule(starts_at: datetime, ends_at: datetime, now: datetime,
                   min_seconds: int, max_seconds: int) -> None:
    """Raise :class:`ListingError` unless the schedule is within the allowed bounds."""
    if starts_at < now - timedelta(minutes=5):
        raise ListingError("starts_at", "starts_at must not be in the past.")
    duration = (ends_at - max(starts_at, now)).total_seconds()
    if duration < min_seconds:
        raise ListingError("ends_at", f"The auction must last at least {min_seconds} seconds.")
    if (ends_at - starts_at).total_seconds() > max_seconds:
        raise ListingError("ends_at", f"The auction may last at most {max_seconds} seconds.")


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
