"""The Sell and Edit forms: what the seller typed, checked, as the catalog API's body.

Pure functions over the form's text (no Flask): the API checks every rule again, these give
the messages a person understands, next to the field they concern.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auction_common.money import major_units, parse_minor_units

from .times import iso_utc, parse_instant, utcnow

# The catalog (auction_service/domain.py, settings.py) owns these rules and checks them again;
# the forms keep a copy to explain a mistake next to its field before asking the API, and
# tests/unit/test_shared_rules.py fails when a copy drifts from its owner.
#: The currencies a seller can choose, in the order the form lists them.
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD")
#: Longest auction a seller can create from the form (30 days, the catalog's default limit).
MAX_DURATION_MINUTES = 30 * 24 * 60
#: The catalog's anti-sniping bounds (seconds) and default.
ANTI_SNIPING_DEFAULT, ANTI_SNIPING_MAX = 120, 3600
#: The shortest title, and the longest addition to a description after the first bid.
TITLE_MIN, ADDITION_MAX = 3, 1_000
#: What the forms start with.
NEW_LISTING_FORM = {
    "title": "", "description": "", "category": "", "condition": "", "currency": "EUR",
    "starting_price": "", "reserve_price": "", "buy_now_price": "",
    "anti_sniping_seconds": str(ANTI_SNIPING_DEFAULT), "duration_minutes": "60",
    "ends_at_local": "", "starts_at_local": "", "time_zone": "",
}
#: The fields an edit before the first bid may change (the currency never changes).
EDITABLE_FIELDS = ("title", "description", "category", "condition", "starting_price",
                   "reserve_price", "buy_now_price", "anti_sniping_seconds")
#: API fields shown under another form field.
FORM_FIELD_FOR_API = {"ends_at": "ends_at_local", "duration_seconds": "duration_minutes",
                      "starts_at": "starts_at_local", "append_description": "addition"}

Errors = dict[str, str]


def read_form(form, names) -> dict[str, str]:
    """The named fields of a submitted form, trimmed (missing ones empty)."""
    return {name: (form.get(name) or "").strip() for name in names}


def new_listing(form: dict[str, str], categories: set[str], conditions: set[str],
                now: datetime | None = None) -> tuple[dict[str, Any], Errors]:
    """The body of ``POST /api/auctions`` for the Sell form, or the form's errors."""
    errors: Errors = {}
    if form["currency"] not in CURRENCIES:
        errors["currency"] = "Choose a currency."
    currency = form["currency"] if form["currency"] in CURRENCIES else "EUR"
    terms = _terms(form, currency, categories, conditions, errors)
    return {**terms, "currency": currency, **_schedule(form, errors, now or utcnow())}, errors


def _schedule(form: dict[str, str], errors: Errors, now: datetime) -> dict[str, Any]:
    """When the auction starts (now, or the optional start) and ends: at the date and time
    given, else after the duration. Dates and times are the seller's own, in the zone the
    page's script reports (``time_zone``; UTC without it)."""
    zone = _zone(form.get("time_zone", ""))
    starts = _local_instant(form.get("starts_at_local", ""), zone, "starts_at_local", errors)
    ends = _local_instant(form.get("ends_at_local", ""), zone, "ends_at_local", errors)
    schedule: dict[str, Any] = {}
    if starts is not None:
        if starts <= now:
            errors["starts_at_local"] = "Choose a start in the future, or leave it empty."
        schedule["starts_at"] = iso_utc(starts)
    if ends is not None:
        if ends <= max(now, starts or now):
            errors["ends_at_local"] = "Choose an end after the start (and in the future)."
        schedule["ends_at"] = iso_utc(ends)
        return schedule
    if "ends_at_local" in errors:
        return schedule
    try:
        minutes = int(form["duration_minutes"])
        if not 1 <= minutes <= MAX_DURATION_MINUTES:
            raise ValueError
    except ValueError:
        minutes = 0
        errors["duration_minutes"] = (
            f"Enter a whole number of minutes (1 to {MAX_DURATION_MINUTES}), or an end date "
            "and time.")
    schedule["duration_seconds"] = minutes * 60
    return schedule


def _zone(name: str):
    """The seller's time zone by its IANA name; UTC when unknown."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local_instant(text: str, zone, field: str, errors: Errors) -> datetime | None:
    """A ``datetime-local`` value (``2026-11-30T14:05``) in ``zone``, as an aware instant."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        errors[field] = "Enter a date and time (day, month, year, hours and minutes)."
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def listing_changes(form: dict[str, str], listing: dict, categories: set[str],
                    conditions: set[str]) -> tuple[dict[str, Any], Errors]:
    """The body of ``PATCH /api/auctions/<id>`` before the first bid: only what differs from
    ``listing`` (the seller's view). An emptied reserve or Buy-It-Now price is removed."""
    errors: Errors = {}
    terms = _terms(form, listing.get("currency") or "EUR", categories, conditions, errors)
    current = {name: listing.get(name) for name in EDITABLE_FIELDS}
    current["description"] = current["description"] or ""
    changes = {name: value for name, value in terms.items() if value != current.get(name)}
    return changes, errors


def listing_as_form(listing: dict) -> dict[str, str]:
    """The Edit form filled with a listing's current terms."""
    currency = listing.get("currency") or "EUR"

    def amount(name: str) -> str:
        value = listing.get(name)
        return major_units(value, currency) if value is not None else ""

    return {
        "title": listing.get("title") or "", "description": listing.get("description") or "",
        "category": listing.get("category") or "", "condition": listing.get("condition") or "",
        "currency": currency, "starting_price": amount("starting_price"),
        "reserve_price": amount("reserve_price"), "buy_now_price": amount("buy_now_price"),
        "anti_sniping_seconds": str(listing.get("anti_sniping_seconds") or 0),
        "addition": "",
    }


def relist_form(listing: dict) -> dict[str, str]:
    """The Sell form filled with an unsold listing's terms, to list it again: as long as it
    ran before (in whole minutes, within the form's limits)."""
    form = {**NEW_LISTING_FORM, **listing_as_form(listing)}
    form.pop("addition", None)
    try:
        lasted = parse_instant(listing["ends_at"]) - parse_instant(listing["starts_at"])
        minutes = round(lasted.total_seconds() / 60)
    except (KeyError, TypeError, ValueError):
        minutes = int(NEW_LISTING_FORM["duration_minutes"])
    form["duration_minutes"] = str(min(max(minutes, 1), MAX_DURATION_MINUTES))
    return form


def description_addition(text: str) -> tuple[dict[str, Any], Errors]:
    """The body of ``PATCH`` after the first bid: text added below the description."""
    if not text:
        return {}, {"addition": "Write what you want to add."}
    if len(text) > ADDITION_MAX:
        return {}, {"addition": f"Add at most {ADDITION_MAX:,} characters at a time."}
    return {"append_description": text}, {}


def _terms(form: dict[str, str], currency: str, categories: set[str], conditions: set[str],
           errors: Errors) -> dict[str, Any]:
    """The fields the Sell and Edit forms share, checked; messages go into ``errors``."""
    if not form["title"]:
        errors["title"] = "Give your item a title."
    elif len(form["title"]) < TITLE_MIN:
        errors["title"] = f"Use at least {TITLE_MIN} characters."
    if form["category"] not in categories:
        errors["category"] = "Choose a category."
    if form["condition"] and form["condition"] not in conditions:
        errors["condition"] = "Choose a condition from the list."
    starting = _amount(form, "starting_price", currency, errors, required=True)
    reserve = _amount(form, "reserve_price", currency, errors)
    buy_now = _amount(form, "buy_now_price", currency, errors)
    if starting is not None and reserve is not None and reserve <= starting:
        errors["reserve_price"] = "The reserve must be above the starting price."
    if buy_now is not None and starting is not None and (
            buy_now <= starting or (reserve is not None and buy_now <= reserve)):
        errors["buy_now_price"] = (
            "The Buy It Now price must be above the starting price and the reserve.")
    try:
        window = int(form["anti_sniping_seconds"] or "0")
        if not 0 <= window <= ANTI_SNIPING_MAX:
            raise ValueError
    except ValueError:
        window = ANTI_SNIPING_DEFAULT
        errors["anti_sniping_seconds"] = (
            f"Enter a whole number of seconds from 0 (off) to {ANTI_SNIPING_MAX}.")
    return {
        "title": form["title"], "description": form["description"],
        "category": form["category"], "condition": form["condition"] or None,
        "starting_price": starting, "reserve_price": reserve, "buy_now_price": buy_now,
        "anti_sniping_seconds": window,
    }


def _amount(form: dict[str, str], name: str, currency: str, errors: Errors,
            required: bool = False) -> int | None:
    """An amount field in minor units; None when left empty (and allowed to be)."""
    if not form[name] and not required:
        return None
    try:
        return parse_minor_units(form[name], currency)
    except ValueError as exc:
        errors[name] = str(exc)
        return None
