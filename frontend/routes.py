"""The pages: browse, sell, an auction (with bidding and its live state), notifications."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from . import presenters
from .api_client import ApiError
from .auth import api, current_user, login_required, wants_json
from .money import CURRENCIES, parse_minor_units
from .times import iso_utc, utcnow

bp = Blueprint("pages", __name__)

#: Longest auction a seller can create from the form (30 days).
MAX_DURATION_MINUTES = 30 * 24 * 60
#: Form fields named differently from the API's body.
_SELL_FIELD_FOR_API = {"ends_at": "duration_minutes"}


@bp.get("/")
def index():
    """The auctions, newest first, a page at a time (``?cursor=``)."""
    page = api().list_auctions(cursor=request.args.get("cursor"))
    return render_template("index.html", auctions=page.get("items", []),
                           next_cursor=page.get("next_cursor"))


@bp.route("/sell", methods=["GET", "POST"])
@login_required
def sell():
    """List an item: the form, then ``POST /api/auctions`` and the new auction's page."""
    categories = _categories()
    form = {"title": "", "description": "", "category": "", "currency": "EUR",
            "starting_price": "", "duration_minutes": "60"}
    if request.method == "GET":
        return render_template("sell.html", form=form, errors={}, categories=categories,
                               currencies=CURRENCIES)

    form = {name: request.form.get(name, "").strip() for name in form}
    listing, errors = _listing_from_form(form, {c["id"] for c in categories})
    if not errors:
        try:
            created = api().create_auction(listing)
        except ApiError as exc:
            if exc.status == 401:
                raise
            errors = {_SELL_FIELD_FOR_API.get(k, k): v for k, v in exc.field_errors.items()}
            return render_template("sell.html", form=form, errors=errors, message=exc.message,
                                   categories=categories, currencies=CURRENCIES), (
                exc.status if exc.status < 500 else 503)
        flash("Your auction is listed.", "success")
        return redirect(url_for("pages.auction", auction_id=created["id"]))
    return render_template("sell.html", form=form, errors=errors, categories=categories,
                           currencies=CURRENCIES, message="Please correct the fields below."), 422


def _categories() -> list[dict]:
    try:
        items = api().auction_categories()
    except ApiError:
        items = None
    return presenters.category_options(items)


def _listing_from_form(form: dict, categories: set[str]) -> tuple[dict, dict[str, str]]:
    """The API's body for a new listing, or the form's errors."""
    errors: dict[str, str] = {}
    if not form["title"]:
        errors["title"] = "Give your item a title."
    if form["category"] not in categories:
        errors["category"] = "Choose a category."
    if form["currency"] not in CURRENCIES:
        errors["currency"] = "Choose a currency."
    starting_price = None
    try:
        starting_price = parse_minor_units(form["starting_price"], form["currency"] or "EUR")
    except ValueError as exc:
        errors["starting_price"] = str(exc)
    try:
        minutes = int(form["duration_minutes"])
        if not 1 <= minutes <= MAX_DURATION_MINUTES:
            raise ValueError
    except ValueError:
        minutes = 0
        errors["duration_minutes"] = (
            f"Enter a whole number of minutes (1 to {MAX_DURATION_MINUTES}).")
    listing = {
        "title": form["title"],
        "description": form["description"],
        "category": form["category"],
        "currency": form["currency"],
        "starting_price": starting_price,
        "ends_at": iso_utc(utcnow() + timedelta(minutes=minutes)),
    }
    return listing, errors


@bp.get("/auctions/<auction_id>")
def auction(auction_id: str):
    """An auction: the catalog listing, its live state, the bid form."""
    listing = api().get_auction(auction_id)
    view = presenters.auction_view(listing, _live_state(auction_id), current_user(),
                                   iso_utc(utcnow()))
    return render_template("auction.html", auction=view, idempotency_key=uuid.uuid4().hex)


def _live_state(auction_id: str) -> dict | None:
    """The live state, or None while bidding_service has not heard of the auction yet."""
    try:
        return api().auction_state(auction_id)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


@bp.get("/auctions/<auction_id>/state.json")
def auction_state(auction_id: str):
    """The live state for the page's script (which never sees the token)."""
    try:
        return jsonify(api().auction_state(auction_id))
    except ApiError as exc:
        return _json_error(exc.status, exc.code, exc.message, exc.details)


@bp.post("/auctions/<auction_id>/bid")
@login_required
def bid(auction_id: str):
    """Place a bid: JSON for the page's script, a redirect with a message for a plain form."""
    currency = request.form.get("currency", "EUR")
    currency = currency if currency in CURRENCIES else "EUR"
    try:
        amount = parse_minor_units(request.form.get("amount", ""), currency)
    except ValueError as exc:
        return _bid_outcome(auction_id, 422, False, str(exc), {"code": "invalid_amount"})
    try:
        answer = api().place_bid(auction_id, amount, request.form.get("idempotency_key") or None)
    except ApiError as exc:
        if exc.status in (401, 503):
            raise
        message = presenters.bid_refused_message(exc.code, exc.message, exc.details, currency)
        return _bid_outcome(auction_id, exc.status, False, message,
                            {"code": exc.code, "details": exc.details})
    message = presenters.bid_accepted_message(answer, amount, currency)
    return _bid_outcome(auction_id, 201, True, message, answer)


def _bid_outcome(auction_id: str, status: int, ok: bool, message: str, data: dict):
    if wants_json():
        body = {"ok": ok, "message": message, **(data if ok else {"error": data})}
        return jsonify(body), status
    category = "error" if not ok else "warning" if data.get("status") == "outbid" else "success"
    flash(message, f"bid:{category}")
    return redirect(url_for("pages.auction", auction_id=auction_id))


def _json_error(status: int, code: str, message: str, details=None):
    return jsonify({"error": {"code": code, "message": message, "details": details}}), status


@bp.get("/me/notifications")
@login_required
def notifications():
    """The signed-in user's in-app notifications."""
    return render_template("notifications.html", notifications=api().notifications())
