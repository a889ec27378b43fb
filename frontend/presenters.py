"""What the pages show, computed from the API's answers (pure functions, no Flask)."""

from __future__ import annotations

from typing import Any

from .money import currency_exponent, format_money, major_units

#: Shown when ``GET /api/auctions/categories`` cannot be reached.
FALLBACK_CATEGORIES = (
    "electronics", "fashion", "home", "collectibles", "art", "sports", "toys", "books", "music",
    "vehicles", "other",
)

#: Why a bid was refused, in words, by the API's error code.
_BID_REFUSALS = {
    "own_auction": "You cannot bid on your own auction.",
    "auction_not_live": "This auction is not open for bids right now.",
    "auction_ended": "This auction has ended.",
    "auction_not_found": "This auction cannot take bids yet. Try again in a moment.",
    "login_required": "Please sign in to bid.",
}


def category_options(items: list[dict] | None) -> list[dict]:
    """``[{"id", "name"}]`` for the category select, falling back to the fixed list."""
    options = [
        {"id": str(item["id"]), "name": str(item.get("name") or item["id"])}
        for item in items or () if isinstance(item, dict) and item.get("id")
    ]
    return options or [{"id": c, "name": c.capitalize()} for c in FALLBACK_CATEGORIES]


def auction_view(listing: dict, state: dict | None, user: dict | None,
                 server_time: str) -> dict[str, Any]:
    """The auction page's data: the catalog listing, overlaid by the live state when known.

    The live state (bidding_service) is the truth for price, bids, leader and end; right after
    a listing is created it may not exist yet, and the catalog's figures stand in.
    """
    live = state or {}
    currency = listing.get("currency") or "EUR"
    price = _first(live.get("current_price"), listing.get("current_price"),
                   listing.get("starting_price"))
    bid_count = _first(live.get("bid_count"), listing.get("bid_count"), 0)
    min_next = live.get("min_next_bid")
    if min_next is None and not bid_count:
        min_next = listing.get("starting_price")
    leader_id = live.get("leader_id")
    user_id = (user or {}).get("id")
    status = live.get("status") or listing.get("status") or "scheduled"
    return {
        "id": str(listing.get("id")),
        "title": listing.get("title") or "Untitled",
        "description": listing.get("description") or "",
        "category": listing.get("category") or "",
        "seller_id": listing.get("seller_id"),
        "currency": currency,
        "exponent": currency_exponent(currency),
        "starting_price": listing.get("starting_price"),
        "current_price": price,
        "bid_count": bid_count,
        "min_next_bid": min_next,
        "min_next_bid_input": major_units(min_next, currency) if min_next is not None else "",
        "leader_id": leader_id,
        "is_leader": bool(user_id and leader_id and str(leader_id) == str(user_id)),
        "is_seller": bool(user_id and str(listing.get("seller_id")) == str(user_id)),
        "status": status,
        "ends_at": live.get("ends_at") or listing.get("ends_at"),
        "seq": live.get("seq") or 0,
        "server_time": live.get("server_time") or server_time,
        "has_live_state": state is not None,
        "outcome": ended_outcome(live, currency, user_id) if status == "ended" else "",
    }


def ended_outcome(state: dict, currency: str, user_id: str | None) -> str:
    """One sentence on how an ended auction turned out, for this user."""
    winner = state.get("winner_id", state.get("leader_id"))
    price = format_money(_first(state.get("final_price"), state.get("current_price")), currency)
    if not winner or not state.get("bid_count"):
        return "This auction has ended without a sale."
    if user_id and str(winner) == str(user_id):
        return f"You won this auction for {price}."
    return f"This auction has ended: sold for {price}."


def bid_accepted_message(answer: dict, amount: int, currency: str) -> str:
    """What to tell a bidder whose bid was accepted (leading, or outbid at once by a proxy)."""
    offered = format_money(amount, currency)
    if answer.get("status") == "outbid":
        return (f"Your bid of {offered} was placed, but another bidder's maximum is higher: "
                "you have been outbid.")
    return f"Your bid of {offered} was placed: you are the highest bidder."


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
