"""The seller's pages: list an item, add photos, follow one's listings, edit or cancel one."""

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

from . import presenters
from .api_client import ApiErrorAnswer
from .auth import api, current_user, login_required, safe_next, wants_json
from .listing_form import (
    CURRENCIES,
    FORM_FIELD_FOR_API,
    NEW_LISTING_FORM,
    description_addition,
    listing_as_form,
    listing_changes,
    new_listing,
    read_form,
    relist_form,
)
from .listings import PHOTOS_ADDED, categories, conditions
from .security import accepts_uploads

bp = Blueprint("selling", __name__)

#: What one upload request may carry: the gateway's limit (nginx ``client_max_body_size``).
UPLOAD_REQUEST_MAX = 12 * 1024 * 1024
#: Photo types the catalog takes.
PHOTO_TYPES = "image/jpeg,image/png,image/webp"


def _choices() -> dict:
    """The selects of the Sell and Edit forms."""
    return {"categories": categories(), "conditions": conditions(), "currencies": CURRENCIES}


def _ids(options: list[dict]) -> set[str]:
    return {option["id"] for option in options}


def _api_field_errors(exc: ApiErrorAnswer) -> dict[str, str]:
    return {FORM_FIELD_FOR_API.get(k, k): v for k, v in exc.field_errors.items()}


def _form_key(sent: str | None) -> str:
    """The form's Idempotency-Key: the one it was sent with, or a new one. It is made when the
    form is shown, so that sending the same form twice (a double click, a retry after a lost
    answer) lists the item once."""
    return sent if sent and 1 <= len(sent) <= 200 else str(uuid.uuid4())


@bp.route("/sell", methods=["GET", "POST"])
@login_required
@accepts_uploads(UPLOAD_REQUEST_MAX)
def sell():
    """List an item: the form (with its photos), then ``POST /api/auctions``, the photos in
    the order chosen, and the new auction's page. The page's script sends the form without
    the photos (JSON answer), then each photo with its own progress. With ``relist=<id>`` (an
    unsold or withdrawn listing of theirs), the form starts from that listing and sends
    ``POST /api/auctions/<id>/relist``, which copies its photos too."""
    choices = _choices()
    relisting = _relisted_listing(request.values.get("relist"))
    if relisting is not None and not presenters.can_relist(relisting):
        flash("Only a listing that ended unsold, or was withdrawn, can be relisted.", "error")
        return redirect(url_for("pages.auction", auction_id=relisting["id"]))
    page = {"relisting": relisting, "photo_types": PHOTO_TYPES, **choices}
    if request.method == "GET":
        form = relist_form(relisting) if relisting else dict(NEW_LISTING_FORM)
        return render_template("sell.html", form=form, errors={}, form_key=_form_key(None),
                               **page)

    form = read_form(request.form, NEW_LISTING_FORM)
    key = _form_key(request.form.get("idempotency_key"))
    listing, errors = new_listing(form, _ids(choices["categories"]),
                                  _ids(choices["conditions"]))
    if errors:
        return _sell_refused(form, errors, key, page, "Please correct the fields below.", 422)
    try:
        if relisting:
            created = api().relist_auction(relisting["id"], listing, idempotency_key=key)
        else:
            created = api().create_auction(listing, idempotency_key=key)
    except ApiErrorAnswer as exc:
        if exc.status == 401:
            raise
        message = exc.message
        if exc.code == "idempotency_conflict":  # this form listed something else already
            key, message = _form_key(None), ("This form already listed an item: see My "
                                             "listings. Send it again to list this one too.")
        return _sell_refused(form, _api_field_errors(exc), key, page, message,
                             exc.status if exc.status < 500 else 503)
    target = url_for("pages.auction", auction_id=created["id"])
    if wants_json():
        # The script sends the photos next (``photos_chosen`` says how many it will).
        if relisting:
            flash("Your item is listed again, with its photos.", "success")
        else:
            flash("Your auction is listed." if request.form.get("photos_chosen", "0") != "0"
                  else "Your auction is listed. Add photos of your item below.", "success")
        return jsonify({"ok": True, "id": created["id"], "url": target,
                        "photos_url": url_for("selling.add_photos", auction_id=created["id"])}), 201
    uploads = [f for f in request.files.getlist("photo") if f and f.filename]
    added, problems = _add_uploads(created["id"], uploads)
    if problems:
        flash(f"Your auction is listed. Not added: {'; '.join(problems)}", "warning")
    elif added:
        flash(f"Your auction is listed with {added} photo{'s' if added != 1 else ''}.",
              "success")
    elif relisting:
        flash("Your item is listed again, with its photos.", "success")
    else:
        flash("Your auction is listed. Add photos of your item below.", "success")
    return redirect(target)


def _sell_refused(form: dict, errors: dict, key: str, page: dict, message: str,
                  status: int):
    """The Sell form again with what to correct (JSON for the page's script); ``page``: the
    choices, photo types and the listing being relisted."""
    if wants_json():
        return jsonify({"ok": False, "message": message, "errors": errors,
                        "idempotency_key": key}), status
    return render_template("sell.html", form=form, errors=errors, form_key=key,
                           message=message, **page), status


def _add_uploads(auction_id: str, uploads: list) -> tuple[int, list[str]]:
    """Add uploaded photos to a listing in their order: how many, and what went wrong."""
    added, problems = 0, []
    for upload in uploads:
        try:
            api().add_photo(auction_id, upload.filename, upload.stream,
                            upload.mimetype or "application/octet-stream")
            added += 1
        except ApiErrorAnswer as exc:
            if exc.status in (401, 404) or exc.status >= 500:
                raise
            problems.append(f"{upload.filename}: {_photo_refusal(exc)}")
    return added, problems


def _relisted_listing(auction_id: str | None) -> dict | None:
    """The seller's own listing to relist, when the form is about one (403 for another's)."""
    if not auction_id:
        return None
    try:
        return _own_listing(auction_id)
    except ApiErrorAnswer as exc:
        if exc.status in (404, 422):
            abort(404, "No such listing.")
        raise


@bp.get("/me/listings")
@login_required
def my_listings():
    """The seller's listings with their price, bids, watchers and reserve; edit or cancel."""
    page = api().my_listings(cursor=request.args.get("cursor"))
    next_cursor = page.get("next_cursor")
    return render_template(
        "my_listings.html",
        listings=[presenters.listing_card(item) for item in page.get("items", [])],
        next_url=url_for("selling.my_listings", cursor=next_cursor) if next_cursor else None)


def _own_listing(auction_id: str) -> dict:
    """The listing in the seller's view; 403 for anybody else."""
    listing = api().get_auction(auction_id)
    user = current_user() or {}
    if str(listing.get("seller_id")) != str(user.get("id")):
        abort(403, "Only the seller can change this listing.")
    return listing


@bp.route("/auctions/<auction_id>/edit", methods=["GET", "POST"])
@login_required
def edit(auction_id: str):
    """Edit a listing: everything until the first bid, then add to the description."""
    listing = _own_listing(auction_id)
    if listing.get("status") in presenters.CLOSED_STATUSES:
        flash("This listing is over: it can no longer be changed.", "error")
        return redirect(url_for("pages.auction", auction_id=auction_id))
    choices = _choices()
    form = listing_as_form(listing)
    if request.method == "GET":
        return _edit_page(listing, form, {}, choices)

    if request.form.get("action") == "append":
        form["addition"] = (request.form.get("addition") or "").strip()
        changes, errors = description_addition(form["addition"])
    else:
        form.update(read_form(request.form, [k for k in form if k not in ("currency",
                                                                         "addition")]))
        changes, errors = listing_changes(form, listing, _ids(choices["categories"]),
                                          _ids(choices["conditions"]))
    if errors:
        return _edit_page(listing, form, errors, choices, "Please correct the fields below."), 422
    if not changes:
        flash("Nothing was changed.", "info")
        return redirect(url_for("selling.edit", auction_id=auction_id))
    try:
        api().update_auction(auction_id, changes)
    except ApiErrorAnswer as exc:
        if exc.status in (401, 403, 404) or exc.status >= 500:
            raise
        if exc.code == "listing_locked":
            # A bid arrived meanwhile: from now on only additions to the description.
            listing = api().get_auction(auction_id)
        return _edit_page(listing, form, _api_field_errors(exc), choices,
                          _edit_refusal(exc)), exc.status
    flash("Your listing is updated.", "success")
    return redirect(url_for("pages.auction", auction_id=auction_id))


def _edit_refusal(exc: ApiErrorAnswer) -> str:
    if exc.code == "listing_locked":
        return ("Someone has bid on this item meanwhile: you can now only add to the "
                "description.")
    return exc.message


def _edit_page(listing: dict, form: dict, errors: dict, choices: dict,
               message: str | None = None):
    return render_template("edit.html", listing=listing, form=form, errors=errors,
                           message=message, locked=bool(listing.get("bid_count")),
                           photo_types=PHOTO_TYPES,
                           photo_moves=presenters.photo_moves(listing.get("images") or []),
                           **choices)


@bp.post("/auctions/<auction_id>/cancel")
@login_required
def cancel(auction_id: str):
    """Withdraw a listing that has no bid yet (the form's box must be ticked)."""
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm that you want to cancel this listing.", "error")
        return redirect(url_for("selling.edit", auction_id=auction_id))
    try:
        api().cancel_auction(auction_id)
    except ApiErrorAnswer as exc:
        if exc.status != 409:
            raise
        flash("This listing can no longer be cancelled: someone has bid on it, or it is over.",
              "error")
        return redirect(url_for("pages.auction", auction_id=auction_id))
    flash("Your listing is cancelled.", "success")
    return redirect(url_for("selling.my_listings"))


@bp.post("/auctions/<auction_id>/photos")
@login_required
@accepts_uploads(UPLOAD_REQUEST_MAX)
def add_photos(auction_id: str):
    """Add the photos of the form's ``file`` field (one or several) to a listing. The page's
    script sends them one per request; JSON for it, a redirect with a message otherwise."""
    uploads = [f for f in request.files.getlist("file") if f and f.filename]
    back = safe_next(request.form.get("next"), url_for("pages.auction", auction_id=auction_id))
    if not uploads:
        return _photos_outcome(back, 422, 0, ["Choose a photo to add."])
    added, problems = _add_uploads(auction_id, uploads)
    return _photos_outcome(back, 201 if added else 422, added, problems)


def _photo_refusal(exc: ApiErrorAnswer) -> str:
    return {
        "invalid_image": "not a JPEG, PNG or WebP photo we can read.",
        "image_too_large": "larger than 10 MB.",
        "too_many_images": "a listing has at most 10 photos.",
        "listing_locked": "photos can no longer change once someone has bid.",
    }.get(exc.code, exc.message)


def _photos_outcome(back: str, status: int, added: int, problems: list[str]):
    message = " ".join(
        ([f"{added} photo{'s' if added != 1 else ''} added."] if added else [])
        + ([f"Not added: {'; '.join(problems)}"] if problems else []))
    if wants_json():
        # The script sends one photo per request, then shows the auction page: that page
        # says how many were added in all.
        session[PHOTOS_ADDED] = session.get(PHOTOS_ADDED, 0) + added
        return jsonify({"ok": not problems, "added": added, "message": message,
                        "problems": problems}), status
    flash(message, "error" if problems else "success")
    return redirect(back)


@bp.post("/auctions/<auction_id>/photos/order")
@login_required
def order_photos(auction_id: str):
    """Put a listing's photos in the order of the form's ``image_id`` fields (each photo
    once): the Edit page's "Move earlier" and "Move later" buttons."""
    back = safe_next(request.form.get("next"), url_for("selling.edit", auction_id=auction_id))
    try:
        api().order_photos(auction_id, request.form.getlist("image_id"))
    except ApiErrorAnswer as exc:
        if exc.status not in (409, 422):
            raise
        flash(f"The photos cannot be reordered: {_photo_refusal(exc)}", "error")
        return redirect(back)
    flash("The photos are reordered.", "success")
    return redirect(back)


@bp.post("/auctions/<auction_id>/photos/<image_id>/delete")
@login_required
def remove_photo(auction_id: str, image_id: str):
    """Remove one photo of a listing."""
    back = safe_next(request.form.get("next"), url_for("selling.edit", auction_id=auction_id))
    try:
        api().remove_photo(auction_id, image_id)
    except ApiErrorAnswer as exc:
        if exc.status != 409:
            raise
        flash(f"The photo cannot be removed: {_photo_refusal(exc)}", "error")
        return redirect(back)
    flash("The photo is removed.", "success")
    return redirect(back)
