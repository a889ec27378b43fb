"""The bidder's pages: browse and search, an auction (bidding, Buy It Now, its live state and
bid history, watching), my bids, my watchlist, notifications."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from auction_common.money import parse_minor_units
from auction_common.problems import error_body

from . import presenters
from .api_client import ApiErrorAnswer
from .auth import api, current_user, login_required, safe_next, wants_json
from .listing_form import CURRENCIES
from .listings import PHOTOS_ADDED, categories, conditions
from .times import iso_utc, utcnow

bp = Blueprint("pages", __name__)

#: The search's parameters as the home page's form names them.
SEARCH_PARAMS = ("q", "category", "status", "condition", "min_price", "max_price", "sort")
#: How many earlier pages' cursors the address keeps for "Previous page".
PAGE_TRAIL_MAX = 30
#: How many of the latest decisions (seq numbers) the auction page shows the lines of.
HISTORY_DECISIONS = 50
#: Lines per history request (the API's maximum).
HISTORY_PAGE = 200


@bp.get("/")
def index():
    """Browse and search the auctions (``q``, ``category``, ``status``, ``condition``, price
    range, ``sort``), a page at a time (``cursor``; ``back`` keeps the earlier pages' cursors
    for "Previous page"). By default only what can still be won (live or starting soon)."""
    search = {name: request.args.get(name, "").strip() for name in SEARCH_PARAMS}
    cursor = request.args.get("cursor") or None
    trail = [c for c in request.args.get("back", "").split("~") if c][-PAGE_TRAIL_MAX:]
    message, page = None, {}
    try:
        query = _search_query(search)
    except ValueError as exc:
        message = str(exc)
    if message is None:
        try:
            page = api().search_auctions(**query, cursor=cursor)
        except ApiErrorAnswer as exc:
            if exc.status != 422:
                raise
            # A search the catalog refuses (say, a stale cursor): say why, keep the form.
            message = _search_refusal(exc)
    items = [presenters.listing_card(item) for item in page.get("items", [])]
    kept = {k: v for k, v in search.items() if v}
    next_cursor = page.get("next_cursor")
    next_url = prev_url = None
    if next_cursor:
        next_url = url_for("pages.index", **kept, cursor=next_cursor,
                           back="~".join([*trail, cursor] if cursor else trail) or None)
    if cursor:
        prev_url = url_for("pages.index", **kept, cursor=trail[-1] if trail else None,
                           back="~".join(trail[:-1]) or None)
    return render_template(
        "index.html", auctions=items, search=search, message=message,
        searching=any(search.values()), categories=categories(), conditions=conditions(),
        sorts=presenters.SORT_OPTIONS, statuses=presenters.STATUS_OPTIONS,
        total=page.get("total"), total_capped=page.get("total_capped"),
        next_url=next_url, prev_url=prev_url, page_number=len(trail) + (2 if cursor else 1),
    ), 422 if message else 200


def _search_query(search: dict[str, str]) -> dict[str, str | int | None]:
    """The form's search as ``GET /api/auctions`` takes it: prices in minor units (every
    currency a seller can choose has cents), the default status ``open``, ``any`` none.
    ValueError with a message for a price that is not one."""
    query: dict[str, str | int | None] = {
        "q": search["q"], "category": search["category"], "condition": search["condition"],
        "sort": search["sort"],
        "status": {"": "open", "any": None}.get(search["status"], search["status"]),
    }
    for name, label in (("min_price", "Lowest price"), ("max_price", "Highest price")):
        if search[name]:
            try:
                query[name] = parse_minor_units(search[name], "EUR")
            except ValueError:
                raise ValueError(f"{label}: enter an amount such as 25 or 25.50.") from None
    if query.get("min_price") is not None and query.get("max_price") is not None and (
            query["min_price"] > query["max_price"]):
        raise ValueError("The highest price is below the lowest price.")
    return query


def _search_refusal(exc: ApiErrorAnswer) -> str:
    fields = exc.field_errors
    if "cursor" in fields:
        return "That page of results is out of date: search again."
    if fields:
        return "; ".join(f"{name}: {text}" for name, text in fields.items())
    return exc.message


@bp.get("/auctions/<auction_id>")
def auction(auction_id: str):
    """An auction: the listing and its photos, the live state, bid and Buy-It-Now forms,
    the latest lines of the bid history."""
    listing = api().get_auction(auction_id)
    state = _live_state(auction_id)
    user = current_user()
    added = session.pop(PHOTOS_ADDED, 0)
    if added:
        flash(f"{added} photo{'s' if added != 1 else ''} added.", "success")
    view = presenters.auction_view(listing, state, user, iso_utc(utcnow()),
                                   seller_name=_display_name(listing.get("seller_id")),
                                   your_max=_your_max(auction_id) if user else None)
    items, history_seq = _recent_history(auction_id, view["seq"])
    return render_template(
        "auction.html", auction=view, sale=_sale_contact(view), idempotency_key=uuid.uuid4().hex,
        buy_now_key=uuid.uuid4().hex, history_seq=history_seq,
        history=None if items is None else presenters.history_lines(items, view["currency"]),
        history_from_start=view["seq"] <= HISTORY_DECISIONS,
    )


def _sale_contact(view: dict) -> dict | None:
    """For a sold auction's winner or seller: the other party's contact (None for anybody
    else, and while notification_service has not recorded the sale yet)."""
    if view["outcome_code"] != "sold" or not (view["is_winner"] or view["is_seller"]):
        return None
    try:
        return api().sale_contact(view["id"])
    except ApiErrorAnswer as exc:
        # Not known yet, or notifications unreachable: the page still shows.
        if exc.status == 401:
            raise
        return None


def _display_name(user_id: str | None) -> str | None:
    """A user's public display name (the seller's, on the item page); None when unknown."""
    if not user_id:
        return None
    try:
        return api().user_profile(str(user_id)).get("display_name")
    except ApiErrorAnswer:
        return None


def _your_max(auction_id: str) -> int | None:
    """The signed-in user's maximum bid on the auction, None when they have not bid."""
    try:
        items = api().my_bids(auction_id=auction_id).get("items", [])
    except ApiErrorAnswer as exc:
        if exc.status == 401:
            raise
        return None
    return next((item.get("your_max") for item in items
                 if str(item.get("auction_id")) == auction_id), None)


def _live_state(auction_id: str) -> dict | None:
    """The live state, or None while bidding_service has not heard of the auction yet."""
    try:
        return api().auction_state(auction_id)
    except ApiErrorAnswer as exc:
        if exc.status == 404:
            return None
        raise


def _recent_history(auction_id: str, seq: int) -> tuple[list[dict] | None, int]:
    """The lines of the latest decisions, newest first, and the seq they reach (the page's
    script fetches what follows). ``None`` when the history cannot be read now: the script
    then fetches it from the same seq."""
    after = max(0, seq - HISTORY_DECISIONS)
    items: list[dict] = []
    try:
        for _ in range(3):
            page = api().bid_history(auction_id, after_seq=after, limit=HISTORY_PAGE)
            items.extend(page.get("items", []))
            after = max([after, *(int(item["seq"]) for item in page.get("items", []))])
            if not page.get("next_cursor"):
                after = max(after, int(page.get("seq") or 0))
                break
            after = int(page["next_cursor"])
    except ApiErrorAnswer as exc:
        if exc.status == 401:
            raise
        if exc.status == 404:  # bidding_service has not heard of the auction yet: no bids
            return items, after
        return None, max(0, seq - HISTORY_DECISIONS)
    return items, after


@bp.get("/auctions/<auction_id>/state.json")
def auction_state(auction_id: str):
    """The live state for the page's script (which never sees the token), with the catalog's
    numbered watcher count: what a page missed while its connection was down."""
    try:
        state = api().auction_state(auction_id)
    except ApiErrorAnswer as exc:
        return _json_error(exc.status, exc.code, exc.message, exc.details)
    try:
        listing = api().get_auction(auction_id)
    except ApiErrorAnswer:  # the count waits for the next event; the bid state matters more
        return jsonify(state)
    return jsonify({**state, "watchers_count": listing.get("watchers_count"),
                    "watchers_seq": listing.get("watchers_seq")})


@bp.get("/auctions/<auction_id>/history.json")
def auction_history(auction_id: str):
    """The bid history after ``after_seq`` for the page's script (its catch-up after a gap,
    a reconnect, or a new bid): the API's answer as it is."""
    try:
        after_seq = int(request.args.get("after_seq", "0"))
        if after_seq < 0:
            raise ValueError
    except ValueError:
        return _json_error(422, "validation_error", "after_seq must be a whole number >= 0.",
                           [{"field": "after_seq", "message": "a whole number >= 0"}])
    try:
        return jsonify(api().bid_history(auction_id, after_seq=after_seq, limit=HISTORY_PAGE))
    except ApiErrorAnswer as exc:
        return _json_error(exc.status, exc.code, exc.message, exc.details)


@bp.post("/auctions/<auction_id>/bid")
@login_required
def bid(auction_id: str):
    """Place a bid: JSON for the page's script, a redirect with a message for a plain form."""
    currency = _form_currency()
    try:
        amount = parse_minor_units(request.form.get("amount", ""), currency)
    except ValueError as exc:
        return _bid_outcome(auction_id, 422, False, str(exc), {"code": "invalid_amount"})
    try:
        answer = api().place_bid(auction_id, amount, request.form.get("idempotency_key") or None)
    except ApiErrorAnswer as exc:
        if exc.status in (401, 503):
            raise
        message = presenters.bid_refused_message(exc.code, exc.message, exc.details, currency)
        return _bid_outcome(auction_id, exc.status, False, message,
                            {"code": exc.code, "details": exc.details})
    message = presenters.bid_accepted_message(answer, amount, currency)
    return _bid_outcome(auction_id, 201, True, message, answer)


@bp.post("/auctions/<auction_id>/buy-now")
@login_required
def buy_now(auction_id: str):
    """Buy It Now: the auction ends at once at the Buy-It-Now price, won by this user."""
    currency = _form_currency()
    try:
        answer = api().buy_now(auction_id, request.form.get("idempotency_key") or None)
    except ApiErrorAnswer as exc:
        if exc.status in (401, 503):
            raise
        message = presenters.bid_refused_message(exc.code, exc.message, exc.details, currency)
        return _bid_outcome(auction_id, exc.status, False, message,
                            {"code": exc.code, "details": exc.details})
    return _bid_outcome(auction_id, 201, True, presenters.bought_message(answer, currency),
                        answer)


def _form_currency() -> str:
    currency = request.form.get("currency", "EUR")
    return currency if currency in CURRENCIES else "EUR"


def _bid_outcome(auction_id: str, status: int, ok: bool, message: str, data: dict):
    if wants_json():
        body = {"ok": ok, "message": message, **(data if ok else {"error": data})}
        return jsonify(body), status
    category = "error" if not ok else "warning" if data.get("status") == "outbid" else "success"
    flash(message, f"bid:{category}")
    return redirect(url_for("pages.auction", auction_id=auction_id))


def _json_error(status: int, code: str, message: str, details=None):
    return jsonify(error_body(code, message, details)), status


@bp.post("/auctions/<auction_id>/watch")
@login_required
def watch(auction_id: str):
    """Watch (``action=watch``) or stop watching (``action=unwatch``) an auction."""
    action = request.form.get("action")
    if action not in ("watch", "unwatch"):
        abort(400, "Choose to watch or to stop watching.")
    back = safe_next(request.form.get("next"),
                     url_for("pages.auction", auction_id=auction_id))
    try:
        api().set_watching(auction_id, action == "watch")
    except ApiErrorAnswer as exc:
        if exc.status == 409:
            flash("This auction is over: it can no longer be watched.", "error")
            return redirect(back)
        raise
    flash("Added to your watchlist." if action == "watch" else "Removed from your watchlist.",
          "success")
    return redirect(back)


@bp.get("/me/bids")
@login_required
def my_bids():
    """The auctions the user bid on: leading, outbid, won or lost, newest bid first."""
    page = api().my_bids(cursor=request.args.get("cursor"))
    next_cursor = page.get("next_cursor")
    return render_template(
        "my_bids.html", rows=presenters.my_bid_rows(page.get("items", [])),
        next_url=url_for("pages.my_bids", cursor=next_cursor) if next_cursor else None)


@bp.get("/me/watching")
@login_required
def watching():
    """The user's watchlist, most recently watched first."""
    page = api().watchlist(cursor=request.args.get("cursor"))
    next_cursor = page.get("next_cursor")
    return render_template(
        "watching.html", auctions=[presenters.listing_card(i) for i in page.get("items", [])],
        next_url=url_for("pages.watching", cursor=next_cursor) if next_cursor else None)


@bp.get("/me/notifications")
@login_required
def notifications():
    """The signed-in user's in-app notifications; those shown are read from now on (this
    page still marks them new)."""
    items = api().notifications()
    unread = [note["id"] for note in items if not note.get("read_at")]
    if unread:
        try:
            api().mark_notifications_read(unread)
        except ApiErrorAnswer as exc:  # shown all the same; they stay unread for next time
            if exc.status == 401:
                raise
    return render_template("notifications.html", notifications=items)


@bp.get("/me/notifications/unread.json")
def unread_notifications():
    """``{"count": n}`` for the menu's badge (0 when signed out)."""
    if current_user() is None:
        return jsonify({"count": 0})
    try:
        return jsonify({"count": api().unread_count()})
    except ApiErrorAnswer as exc:
        return _json_error(exc.status, exc.code, exc.message, exc.details)


@bp.route("/unsubscribe", methods=["GET", "POST"])
def unsubscribe():
    """An email's unsubscribe link (no sign-in): what it turns off, then one button."""
    token = (request.values.get("token") or "").strip()
    try:
        if not token:
            raise ApiErrorAnswer(400, "invalid_token", "This unsubscribe link is not valid.")
        if request.method == "POST":
            subscription, done = api().unsubscribe(token), True
        else:
            subscription, done = api().unsubscribe_preview(token), False
    except ApiErrorAnswer as exc:
        if exc.status >= 500:
            raise
        return render_template("unsubscribe.html", problem=exc.message, token="",
                               subscription=None, done=False), exc.status
    return render_template("unsubscribe.html", subscription=subscription, done=done,
                           token=token, problem=None)
