"""HTTP routes of auction_service: parse, call a use case, answer."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify, request, send_from_directory
from werkzeug.exceptions import RequestEntityTooLarge

from auction_common import idempotency
from auction_common.api import OpenApi
from auction_common.auth import current_user_id, viewer_id
from auction_common.problems import Problem

from . import handlers, photos, relisting, watchlist
from .api_models import (
    AuctionChanges,
    AuctionOut,
    AuctionPage,
    ImageList,
    ImageOrder,
    ImageOut,
    MineQuery,
    NamedList,
    NewAuction,
    PageQuery,
    RelistChanges,
    SearchQuery,
    WatchState,
)
from .domain import CATEGORIES, CONDITIONS
from .imaging import MAX_IMAGE_BYTES
from .queries import Filters

bp = Blueprint("auctions", __name__)
media = Blueprint("media", __name__)
api = OpenApi("auction_service",
              description="The catalog: listings, photos, schedule, search, watchlists.")

#: Room for the multipart framing around a photo of the maximum size.
UPLOAD_REQUEST_MAX = MAX_IMAGE_BYTES + 64 * 1024
TOO_LARGE = f"A photo may be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB."


def _bidding():
    return current_app.extensions["bidding"]


def _db():
    return current_app.extensions["db"]


def _settings():
    return current_app.extensions["settings"]



@api.route(bp, "/api/auctions/categories", "GET", summary="The categories a listing may use",
           response=NamedList, tag="catalog")
def categories():
    return jsonify({"items": [{"id": c, "name": n} for c, n in CATEGORIES]})


@api.route(bp, "/api/auctions/conditions", "GET", summary="The conditions an item may be in",
           response=NamedList, tag="catalog")
def conditions():
    return jsonify({"items": [{"id": c, "name": n} for c, n in CONDITIONS]})


@api.route(bp, "/api/auctions", "POST",
           summary="List an item for auction (Idempotency-Key: a retry answers the same)",
           body=NewAuction, response=AuctionOut, status=201, auth=True, errors=(409,),
           tag="catalog")
def create(body: NewAuction):
    seller = current_user_id()
    status, answer = handlers.create_auction(_db(), seller, body.model_dump(by_alias=True),
                                             _settings(), idempotency.request_key())
    return jsonify(answer), status


@api.route(bp, "/api/auctions", "GET",
           summary="Search and browse listings (full text, filters, sorts, cursor pages)",
           query=SearchQuery, response=AuctionPage, tag="catalog")
def browse(query: SearchQuery):
    if (query.min_price is not None and query.max_price is not None
            and query.min_price > query.max_price):
        raise Problem(422, "validation_error", "max_price is below min_price.",
                      [{"field": "max_price", "message": "must not be below min_price"}])
    filters = Filters(q=query.q if query.q and query.q.strip() else None,
                      category=query.category, status=query.status, seller_id=query.seller_id,
                      currency=query.currency, condition=query.condition,
                      min_price=query.min_price, max_price=query.max_price)
    return jsonify(handlers.search_auctions(_db(), filters, query.sort, query.limit,
                                            query.cursor, _settings(), count=True))


@api.route(bp, "/api/auctions/mine", "GET",
           summary="The signed-in seller's listings, with reserve, price, bids and watchers",
           query=MineQuery, response=AuctionPage, auth=True, tag="selling")
def mine(query: MineQuery):
    seller = current_user_id()
    filters = Filters(seller_id=uuid.UUID(seller), status=query.status)
    return jsonify(handlers.search_auctions(_db(), filters, query.sort, query.limit,
                                            query.cursor, _settings(), for_seller=True))


@api.route(bp, "/api/auctions/watching", "GET", summary="The signed-in user's watchlist",
           query=PageQuery, response=AuctionPage, auth=True, tag="watchlist")
def watching(query: PageQuery):
    user = current_user_id()
    return jsonify(watchlist.watching(_db(), user, query.limit, query.cursor, _settings()))


@api.route(bp, "/api/auctions/<uuid:auction_id>", "GET", summary="One listing",
           response=AuctionOut, errors=(401, 404), tag="catalog")
def show(auction_id: uuid.UUID):
    return jsonify(handlers.get_auction(_db(), auction_id, viewer_id(), _settings()))


@api.route(bp, "/api/auctions/<uuid:auction_id>", "PATCH",
           summary="Edit a listing (everything until the first bid, then add to the description)",
           body=AuctionChanges, response=AuctionOut, auth=True, errors=(403, 404, 409),
           tag="selling")
def edit(auction_id: uuid.UUID, body: AuctionChanges):
    seller = current_user_id()
    changes = body.model_dump(by_alias=True, exclude_unset=True)
    return jsonify(handlers.update_auction(_db(), auction_id, seller, changes, _settings(),
                                           _bidding(), request.headers["Authorization"]))


@api.route(bp, "/api/auctions/<uuid:auction_id>/cancel", "POST",
           summary="Cancel a listing that has no bid yet", response=AuctionOut, auth=True,
           errors=(403, 404, 409), tag="selling")
def cancel(auction_id: uuid.UUID):
    seller = current_user_id()
    return jsonify(handlers.cancel_auction(_db(), auction_id, seller, _settings(), _bidding(),
                                           request.headers["Authorization"]))


@api.route(bp, "/api/auctions/<uuid:auction_id>/relist", "POST",
           summary="List an unsold or withdrawn item again: a new listing with the same terms "
                   "and photos, the fields given changed (Idempotency-Key: a retry answers "
                   "the same)", body=RelistChanges, response=AuctionOut, status=201, auth=True,
           errors=(403, 404, 409), tag="selling")
def relist(auction_id: uuid.UUID, body: RelistChanges):
    seller = current_user_id()
    status, answer = relisting.relist_auction(
        _db(), auction_id, seller, body.model_dump(by_alias=True, exclude_unset=True),
        _settings(), idempotency.request_key())
    return jsonify(answer), status


@api.route(bp, "/api/auctions/<uuid:auction_id>/images", "POST",
           summary="Add a photo (multipart field `file`: JPEG, PNG or WebP, at most 10 MB)",
           response=ImageOut, status=201, auth=True, errors=(403, 404, 409, 413, 415, 422),
           tag="selling")
def upload_image(auction_id: uuid.UUID):
    seller = current_user_id()
    # Only this route takes large bodies; the app's limit stays small for JSON.
    request.max_content_length = UPLOAD_REQUEST_MAX
    if request.mimetype != "multipart/form-data":
        raise Problem(415, "unsupported_media_type",
                      "Send the photo as multipart/form-data in the field 'file'.")
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        raise Problem(413, "image_too_large", TOO_LARGE) from None
    if upload is None:
        raise Problem(422, "validation_error", "Send the photo in the field 'file'.",
                      [{"field": "file", "message": "missing"}])
    data = upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise Problem(413, "image_too_large", TOO_LARGE)
    image = photos.add_photo(_db(), auction_id, seller, data, _settings())
    return jsonify(image), 201


api.paths["/api/auctions/{auction_id}/images"]["post"]["requestBody"] = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}},
    }}},
}


@api.route(bp, "/api/auctions/<uuid:auction_id>/images/<uuid:image_id>", "DELETE",
           summary="Remove a photo", status=204, auth=True, errors=(403, 404, 409),
           tag="selling")
def delete_image(auction_id: uuid.UUID, image_id: uuid.UUID):
    seller = current_user_id()
    photos.remove_photo(_db(), auction_id, image_id, seller, _settings())
    return "", 204


@api.route(bp, "/api/auctions/<uuid:auction_id>/images/order", "PUT",
           summary="Put the photos in this order (every photo once)", body=ImageOrder,
           response=ImageList, auth=True, errors=(403, 404, 409), tag="selling")
def order_images(auction_id: uuid.UUID, body: ImageOrder):
    seller = current_user_id()
    items = photos.reorder_photos(_db(), auction_id, body.image_ids, seller, _settings())
    return jsonify({"items": items})


@api.route(bp, "/api/auctions/<uuid:auction_id>/watch", "PUT", summary="Watch a listing",
           response=WatchState, auth=True, errors=(404, 409), tag="watchlist")
def watch(auction_id: uuid.UUID):
    return jsonify(watchlist.watch(_db(), auction_id, current_user_id()))


@api.route(bp, "/api/auctions/<uuid:auction_id>/watch", "DELETE", summary="Stop watching",
           response=WatchState, auth=True, errors=(404,), tag="watchlist")
def unwatch(auction_id: uuid.UUID):
    return jsonify(watchlist.unwatch(_db(), auction_id, current_user_id()))


@media.get("/media/<path:filename>")
def media_file(filename: str):
    """Photos, for the embedded mode (the gateway serves ``/media/`` itself elsewhere)."""
    return send_from_directory(_settings().media_root, filename, max_age=7 * 24 * 3600)
