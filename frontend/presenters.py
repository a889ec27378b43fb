"""What the pages show, computed from the API's answers (pure functions, no Flask)."""

from __future__ import annotations

from typing import Any

from auction_common.money import currency_exponent, format_money, major_units

from .times import parse_instant, relative

# The catalog owns its categories and conditions and serves them; these copies stand in when
# it cannot be reached (tests/unit/test_shared_rules.py keeps them equal to the catalog's).
#: Shown when ``GET /api/auctions/categories`` cannot be reached.
FALLBACK_CATEGORIES = (
    ("electronics", "Electronics"), ("fashion", "Fashion"), ("home", "Home & Garden"),
    ("collectibles", "Collectibles"), ("art", "Art"), ("sports", "Sports"),
    ("toys", "Toys & Hobbies"), ("books", "Books"), ("music", "Music"),
    ("vehicles", "Vehicles"), ("other", "Other"),
)
#: Shown when ``GET /api/auctions/conditions`` cannot be reached.
FALLBACK_CONDITIONS = (
    ("new", "New"), ("like_new", "Like new"), ("used", "Used"),
    ("for_parts", "For parts or not working"),
)
#: The orders of the catalog's search, as the home page offers them ("" = the API's default:
#: best match with a search, else newest first).
SORT_OPTIONS = (
    ("", "Best match"),
    ("ending_soon", "Ending soonest"),
    ("newly_listed", "Newly listed"),
    ("price_asc", "Price: lowest first"),
    ("price_desc", "Price: highest first"),
    ("most_bids", "Most bids"),
)
#: The statuses a search can be narrowed to: by default what can still be won ("" = the
#: API's ``open``); ``any`` asks for every status, ended ones included.
STATUS_OPTIONS = (("", "Live or starting soon"), ("live", "Live"), ("scheduled", "Starting soon"),
                  ("ended", "Ended"), ("any", "Any status"))
#: Statuses after which nothing changes any more.
CLOSED_STATUSES = ("ended", "cancelled")

#: Why a bid was refused, in words, by the API's error code.
_BID_REFUSALS = {
    "own_auction": "You cannot bid on your own auction.",
    "auction_not_live": "This auction is not open for bids right now.",
    "auction_ended": "This auction has ended.",
    "auction_not_found": "This auction cannot take bids yet. Try again in a moment.",
    "login_required": "Please sign in to bid.",
    "user_suspended": "Your account is suspended: you cannot bid.",
    "buy_now_unavailable": "Buy It Now is no longer available for this auction.",
}

#: A bidder's standing on "My bids", in words (the API's ``status``).
MY_BID_STATUS = {"leading": "Highest bidder", "outbid": "Outbid", "won": "Won", "lost": "Lost"}


def category_options(items: list[dict] | None) -> list[dict]:
    """``[{"id", "name"}]`` for the category select, falling back to the fixed list."""
    options = _named(items)
    return options or [{"id": c, "name": n} for c, n in FALLBACK_CATEGORIES]


def condition_options(items: list[dict] | None) -> list[dict]:
    """``[{"id", "name"}]`` for the condition select, falling back to the fixed list."""
    return _named(items) or [{"id": c, "name": n} for c, n in FALLBACK_CONDITIONS]


def _named(items: list[dict] | None) -> list[dict]:
    return [
        {"id": str(item["id"]), "name": str(item.get("name") or item["id"])}
        for item in items or () if isinstance(item, dict) and item.get("id")
    ]


def condition_label(condition: str | None) -> str:
    """``"like_new"`` -> ``"Like new"`` (empty when the seller did not say)."""
    return dict(FALLBACK_CONDITIONS).get(condition or "", (condition or "").replace("_", " "))


def auction_view(listing: dict, state: dict | None, user: dict | None,
                 server_time: str, seller_name: str | None = None,
                 your_max: int | None = None) -> dict[str, Any]:
    """The auction page's data: the catalog listing, overlaid by the live state when known.

    The live state (bidding_service) is the truth for price, bids, leader, reserve, Buy It
    Now, end and outcome; right after a listing is created it may not exist yet, and the
    catalog's read model stands in.
    """
    live = state or {}
    currency = listing.get("currency") or "EUR"
    price = _first(live.get("current_price"), listing.get("current_price"),
                   listing.get("starting_price"))
    bid_count = _first(live.get("bid_count"), listing.get("bid_count"), 0)
    min_next = live.get("min_next_bid")
    if min_next is None and not bid_count:
        min_next = listing.get("starting_price")
    leader_id = _first(live.get("leader_id"), None if state else listing.get("leader_id"))
    user_id = (user or {}).get("id")
    outcome = _first(live.get("outcome"), listing.get("outcome"))
    if listing.get("status") == "cancelled":
        outcome = "cancelled"
    status = "cancelled" if outcome == "cancelled" else (
        live.get("status") or listing.get("status") or "scheduled")
    winner_id = _first(live.get("winner_id"), listing.get("winner_id"))
    # Whether Buy It Now is offered is bidding's to say (its live state, or the catalog's copy
    # of what bidding published); the page only shows it.
    buy_now_offered = bool((live if state is not None else listing).get("buy_now_available"))
    buy_now_price = listing.get("buy_now_price") if buy_now_offered else None
    is_seller = bool(user_id and str(listing.get("seller_id")) == str(user_id))
    has_reserve = bool(_first(live.get("has_reserve"), listing.get("has_reserve"), False))
    reserve_met = _first(live.get("reserve_met"), listing.get("reserve_met"))
    closed = status in CLOSED_STATUSES
    unlocked = is_seller and not closed and not bid_count
    return {
        "id": str(listing.get("id")),
        "title": listing.get("title") or "Untitled",
        "description": listing.get("description") or "",
        "category": listing.get("category") or "",
        "condition": condition_label(listing.get("condition")),
        "seller_id": listing.get("seller_id"),
        "seller_name": seller_name,
        "your_max": your_max if not is_seller else None,
        "currency": currency,
        "exponent": currency_exponent(currency),
        "starting_price": listing.get("starting_price"),
        "current_price": price,
        "bid_count": bid_count,
        "min_next_bid": min_next,
        "min_next_bid_input": major_units(min_next, currency) if min_next is not None else "",
        "leader_id": leader_id,
        "leader_name": live.get("leader_name"),
        "is_leader": bool(user_id and leader_id and str(leader_id) == str(user_id)),
        "is_seller": is_seller,
        "status": status,
        "closed": closed,
        "ends_at": live.get("ends_at") or listing.get("ends_at"),
        "seq": live.get("seq") or 0,
        "server_time": live.get("server_time") or server_time,
        "has_live_state": state is not None,
        "has_reserve": has_reserve,
        "reserve_met": bool(reserve_met),
        "reserve_label": reserve_label(has_reserve, reserve_met),
        "reserve_price": listing.get("reserve_price") if is_seller else None,
        "buy_now_price": buy_now_price,
        "buy_now_offered": buy_now_offered,
        "anti_sniping_seconds": listing.get("anti_sniping_seconds"),
        "images": [image for image in listing.get("images") or () if isinstance(image, dict)],
        "watching": listing.get("watching"),
        "watchers_count": listing.get("watchers_count") or 0,
        "watchers_seq": listing.get("watchers_seq") or 0,
        "outcome_code": outcome or "",
        "winner_id": winner_id,
        "is_winner": bool(user_id and winner_id and str(winner_id) == str(user_id)),
        "outcome": (ended_outcome(outcome, winner_id, price, currency, user_id, is_seller)
                    if closed else ""),
        "can_edit": is_seller and not closed,
        "can_relist": is_seller and closed and (outcome in UNSOLD_OUTCOMES),
        "can_change_everything": unlocked,
    }


#: Outcomes after which the seller still has the item and may list it again.
UNSOLD_OUTCOMES = ("unsold_no_bids", "unsold_reserve_not_met", "cancelled")


def can_relist(listing: dict) -> bool:
    """Whether a listing (the catalog's view) ended unsold or was withdrawn."""
    return listing.get("status") == "cancelled" or listing.get("outcome") in UNSOLD_OUTCOMES


def reserve_label(has_reserve: bool, reserve_met: bool | None) -> str:
    """``"Reserve met"`` / ``"Reserve not met"``, or empty for a listing without a reserve."""
    if not has_reserve:
        return ""
    return "Reserve met" if reserve_met else "Reserve not met"


def ended_outcome(outcome: str | None, winner_id: str | None, price: int | None,
                  currency: str, user_id: str | None, is_seller: bool = False) -> str:
    """One sentence on how a closed auction turned out, for this user (the same words as the
    page's script says them on ``auction.ended``)."""
    if outcome == "sold":
        amount = format_money(price, currency)
        if user_id and winner_id and str(winner_id) == str(user_id):
            return f"You won this auction for {amount}."
        if is_seller:
            return f"Your item sold for {amount}."
        return f"This auction has ended: sold for {amount}."
    if outcome == "unsold_reserve_not_met":
        return "This auction has ended: the reserve was not met."
    if outcome == "unsold_no_bids":
        return "This auction has ended without any bids."
    if outcome == "cancelled":
        return "The seller cancelled this auction."
    return "This auction has ended. The result will be shown in a moment."


def history_lines(items: list[dict], currency: str) -> list[dict[str, Any]]:
    """The bid history panel's lines, newest first (the API answers oldest first)."""
    lines = []
    for item in items:
        placed_at = item.get("placed_at")
        lines.append({
            "bid_id": str(item.get("bid_id")),
            "seq": int(item.get("seq") or 0),
            "bidder": item.get("bidder") or "***",
            "price": format_money(item.get("current_price"), currency),
            "placed_at": placed_at or "",
            "placed_label": history_time(placed_at),
            "auto": bool(item.get("auto")),
            "yours": bool(item.get("yours")),
        })
    return lines[::-1]


def history_time(instant: str | None) -> str:
    """``"2 min 05 s ago · 31 Jan 12:00:05 UTC"``: when a bid was placed, to the second."""
    value = parse_instant(instant)
    return f"{relative(value)} · {value.strftime('%d %b %H:%M:%S UTC')}" if value else ""


def photo_moves(images: list[dict]) -> list[dict[str, list[str] | None]]:
    """For each photo, the order of every photo's id after moving it one place earlier and
    one place later (``None`` where it cannot move): what the Edit page's buttons send."""
    ids = [str(image.get("id")) for image in images]
    moves = []
    for index in range(len(ids)):
        swapped = {}
        for name, other in (("earlier", index - 1), ("later", index + 1)):
            if 0 <= other < len(ids):
                order = list(ids)
                order[index], order[other] = order[other], order[index]
                swapped[name] = order
            else:
                swapped[name] = None
        moves.append(swapped)
    return moves


def my_bid_rows(items: list[dict]) -> list[dict[str, Any]]:
    """The rows of "My bids": each auction with the user's standing in words."""
    return [{
        **item,
        "standing": MY_BID_STATUS.get(item.get("status"), item.get("status") or ""),
        "outcome_text": (ended_outcome(item.get("outcome"), None, item.get("current_price"),
                                       item.get("currency") or "EUR", None)
                         if item.get("status") == "lost" else ""),
    } for item in items if isinstance(item, dict)]


def listing_card(item: dict) -> dict[str, Any]:
    """An item of a listing page (home, watching, my listings) with its first photo."""
    images = [image for image in item.get("images") or () if isinstance(image, dict)]
    return {**item, "thumb": images[0] if images else None,
            "reserve_label": reserve_label(bool(item.get("has_reserve")),
                                           item.get("reserve_met")),
            "can_relist": can_relist(item),
            "exponent": currency_exponent(item.get("currency")),
            "watchers_seq": item.get("watchers_seq") or 0}


def bid_accepted_message(answer: dict, amount: int, currency: str) -> str:
    """What to tell a bidder whose bid was accepted (leading, or outbid at once by a proxy)."""
    offered = format_money(amount, currency)
    if answer.get("status") == "outbid":
        return (f"Your bid of {offered} was placed, but another bidder's maximum is higher: "
                "you have been outbid.")
    return f"Your bid of {offered} was placed: you are the highest bidder."


def bought_message(answer: dict, currency: str) -> str:
    """What to tell a buyer whose Buy It Now went through."""
    return f"You bought this item for {format_money(answer.get('price'), currency)}."


def bid_refused_message(code: str, message: str, details: Any, currency: str) -> str:
    """What to tell a bidder whose bid was refused, from the API's error code."""
    if code == "too_low":
        minimum = details.get("min_next_bid") if isinstance(details, dict) else None
        if minimum is not None:
            return f"Your bid is too low: bid at least {format_money(minimum, currency)}."
        return "Your bid is too low."
    return _BID_REFUSALS.get(code, message)


def _first(*values):
    return next((value for value in values if value is not None), None)
