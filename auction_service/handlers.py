"""Use cases of the catalog's listings: list an item, edit it, cancel it, read and search."""

from __future__ import annotations

import uuid
from datetime import datetime

from auction_common import idempotency
from auction_common.db import Database, UnitOfWork
from auction_common.events import isoformat, utcnow
from auction_common.problems import Problem

from . import queries
from .bidding import BiddingGate
from .domain import (
    EDITABLE_AFTER_FIRST_BID,
    ListingInvalid,
    Terms,
    append_to_description,
    check_changeable,
    check_listing,
    check_seller,
    resolve_end,
)
from .models import Auction
from .presenters import auction_view, status_of
from .settings import AuctionSettings

#: What bidding_service keeps of a listing: a change to any of these emits ``auction.updated``.
BIDDING_TERMS = ("title", "starting_price", "reserve_price", "buy_now_price", "increments",
                 "anti_sniping_seconds", "starts_at", "ends_at")

def terms_of(auction: Auction) -> Terms:
    """The seller's terms of a stored listing."""
    return Terms(
        title=auction.title, description=auction.description, category=auction.category,
        condition=auction.condition, currency=auction.currency,
        starting_price=auction.starting_price, reserve_price=auction.reserve_price,
        buy_now_price=auction.buy_now_price, increments=auction.increments,
        anti_sniping_seconds=auction.anti_sniping_seconds, starts_at=auction.starts_at,
        ends_at=auction.ends_at,
    )


def _schedule(listing: dict, starts_at: datetime) -> datetime:
    """The end from ``ends_at`` or ``duration_seconds`` (exactly one of them)."""
    ends_at, duration = listing.get("ends_at"), listing.get("duration_seconds")
    if ends_at is None and duration is None:
        raise ListingInvalid([{"field": "ends_at",
                               "message": "Give ends_at or duration_seconds."}])
    if ends_at is not None and duration is not None:
        raise ListingInvalid([{"field": "duration_seconds",
                               "message": "Give ends_at or duration_seconds, not both."}])
    try:
        return resolve_end(starts_at, ends_at, duration)
    except OverflowError:  # a start in year 9999 plus a duration
        raise ListingInvalid([{"field": "starts_at",
                               "message": "starts_at is too far in the future."}]) from None


def listing_snapshot(auction: Auction) -> dict:
    """What bidding_service keeps of a listing (``auction.created``'s and ``auction.updated``'s
    data, and the catalog's calls to bidding), without the version."""
    return {
        "auction_id": str(auction.id), "seller_id": str(auction.seller_id),
        "title": auction.title, "currency": auction.currency,
        "starting_price": auction.starting_price, "reserve_price": auction.reserve_price,
        "buy_now_price": auction.buy_now_price, "increments": auction.increments,
        "anti_sniping_seconds": auction.anti_sniping_seconds,
        "starts_at": isoformat(auction.starts_at), "ends_at": isoformat(auction.ends_at),
    }


def _view(uow: UnitOfWork, auction: Auction, now: datetime, settings: AuctionSettings,
          for_seller: bool, viewer_id: str | None = None) -> dict:
    images = queries.images_of(uow.session, [auction.id])[auction.id]
    return auction_view(auction, now, images, settings.media_url, for_seller, viewer_id)


def create_auction(db: Database, seller_id: str, listing: dict, settings: AuctionSettings,
                   idempotency_key: str | None = None) -> idempotency.Answer:
    """List an item and announce it with ``auction.created`` (one transaction); returns
    (201, the seller's view). With an ``Idempotency-Key``, a retry (a double click, a resent
    form) gets the first answer back instead of a second listing."""

    def decide(uow: UnitOfWork) -> tuple[idempotency.Answer, bool]:
        return (201, list_item(uow, seller_id, listing, settings)), True

    return idempotency.run_once(db, seller_id, idempotency_key,
                                idempotency.fingerprint("list", listing), decide)


def list_item(uow: UnitOfWork, seller_id: str, listing: dict,
              settings: AuctionSettings) -> dict:
    """Check and store a new listing in the caller's unit of work, with its
    ``auction.created``; answers the seller's view of it (a new listing and a relisting alike)."""
    now = utcnow()
    starts_at = listing.get("starts_at") or now
    terms = Terms(
        title=listing["title"].strip(), description=listing.get("description") or "",
        category=listing["category"], condition=listing.get("condition"),
        currency=listing["currency"], starting_price=listing["starting_price"],
        reserve_price=listing.get("reserve_price"), buy_now_price=listing.get("buy_now_price"),
        increments=listing.get("increments"),
        anti_sniping_seconds=listing["anti_sniping_seconds"], starts_at=starts_at,
        ends_at=_schedule(listing, starts_at),
    )
    check_listing(terms, now, settings.schedule_limits)
    auction = Auction(
        id=uuid.uuid4(), seller_id=uuid.UUID(seller_id), title=terms.title,
        description=terms.description, category=terms.category, condition=terms.condition,
        currency=terms.currency, starting_price=terms.starting_price,
        reserve_price=terms.reserve_price, buy_now_price=terms.buy_now_price,
        increments=terms.increments, anti_sniping_seconds=terms.anti_sniping_seconds,
        starts_at=terms.starts_at, ends_at=terms.ends_at, current_price=terms.starting_price,
        bid_count=0, reserve_met=False, watchers_count=0, last_seq=0, created_at=now,
        version=1,
        # What bidding says of a listing nobody has bid on yet; its events (and its answers to
        # a change of terms) say it from the first bid on.
        buy_now_available=terms.buy_now_price is not None,
    )
    uow.session.add(auction)
    uow.publish("auction.created", {**listing_snapshot(auction), "category": auction.category,
                                    "version": auction.version})
    uow.session.flush()  # the row is written (and checked) before the answer is stored
    return auction_view(auction, now, [], settings.media_url, for_seller=True)


def update_auction(db: Database, auction_id: uuid.UUID, user_id: str, changes: dict,
                   settings: AuctionSettings, bidding: BiddingGate, authorization: str) -> dict:
    """The seller edits a listing: anything until the first bid, then only adds to the
    description. Whether there is a bid is bidding_service's to say: any other change is
    first put in force there (``BiddingGate.change_terms``, under the auction's row lock), and
    saved here only once bidding agreed; its refusal (409 ``listing_locked``) is the answer.
    Emits ``auction.updated`` (with the listing's new version) when a term bidding keeps
    changed."""
    now = utcnow()
    with db.unit_of_work() as uow:
        auction = queries.locked_listing(uow.session, auction_id)
        check_seller(auction.seller_id, user_id)
        # The read model's count only grows: if it shows a bid, there is one.
        check_changeable(status_of(auction, now), auction.bid_count, set(changes),
                         EDITABLE_AFTER_FIRST_BID)
        before = terms_of(auction)
        terms = _edited_terms(before, changes, now)
        start_moved = terms.starts_at != before.starts_at
        check_listing(terms, now, settings.schedule_limits, check_start=start_moved,
                      check_end=start_moved or terms.ends_at != before.ends_at)
        if terms != before:
            for field, value in vars(terms).items():
                setattr(auction, field, value)
            if auction.bid_count == 0:
                auction.current_price = auction.starting_price
            auction.updated_at = now
            auction.version += 1
            if set(changes) - EDITABLE_AFTER_FIRST_BID:
                decided = bidding.change_terms(auction.id, authorization,
                                               listing_snapshot(auction), auction.version)
                # Bidding's word on Buy It Now under the new terms, unless a newer bid event
                # already reached the read model (the row is locked here, so none can
                # arrive between this check and the commit).
                if "buy_now_available" in decided and auction.last_seq <= decided.get("seq", 0):
                    auction.buy_now_available = decided["buy_now_available"]
            if any(getattr(terms, f) != getattr(before, f) for f in BIDDING_TERMS):
                uow.publish("auction.updated", {**listing_snapshot(auction),
                                                "version": auction.version})
            uow.commit()
        return _view(uow, auction, now, settings, for_seller=True)


def _edited_terms(before: Terms, changes: dict, now: datetime) -> Terms:
    """The listing's terms once ``changes`` are made (not yet checked)."""
    plain = {field: changes[field] for field in (
        "title", "description", "category", "condition", "starting_price", "reserve_price",
        "buy_now_price", "increments", "anti_sniping_seconds", "starts_at") if field in changes}
    if "title" in plain:
        plain["title"] = plain["title"].strip()
    if plain.get("starts_at") is None and "starts_at" in plain:
        plain["starts_at"] = now
    terms = before.changed(**plain)
    if "ends_at" in changes or "duration_seconds" in changes:
        terms = terms.changed(ends_at=_schedule(changes, terms.starts_at))
    if changes.get("append_description"):
        terms = terms.changed(description=append_to_description(
            terms.description, changes["append_description"], now))
    return terms


def cancel_auction(db: Database, auction_id: uuid.UUID, user_id: str,
                   settings: AuctionSettings, bidding: BiddingGate, authorization: str) -> dict:
    """The seller withdraws a listing that has no bid yet; emits ``auction.cancelled``.

    bidding_service closes it first, under the auction's row lock, or refuses because a bid
    came first (409 ``listing_locked``); the listing is marked cancelled here only after."""
    now = utcnow()
    with db.unit_of_work() as uow:
        auction = queries.locked_listing(uow.session, auction_id)
        check_seller(auction.seller_id, user_id)
        check_changeable(status_of(auction, now), 0, set(), frozenset())
        if auction.bid_count > 0:
            raise Problem(409, "listing_locked", "The listing has bids: it can no longer be "
                                                 "cancelled.")
        auction.version += 1
        bidding.withdraw(auction.id, authorization, listing_snapshot(auction), auction.version)
        auction.cancelled_at = now
        auction.updated_at = now
        uow.publish("auction.cancelled", {
            "auction_id": str(auction.id), "seller_id": str(auction.seller_id),
            "cancelled_at": isoformat(now), "version": auction.version,
        })
        uow.commit()
        return _view(uow, auction, now, settings, for_seller=True)


def get_auction(db: Database, auction_id: uuid.UUID, viewer_id: str | None,
                settings: AuctionSettings) -> dict:
    """One listing, or 404 ``auction_not_found``; the seller sees their own reserve, a signed-in
    viewer whether they watch it."""
    now = utcnow()
    with db.unit_of_work() as uow:
        auction = uow.session.get(Auction, auction_id)
        if auction is None:
            raise Problem(404, "auction_not_found", "No such auction.")
        view = _view(uow, auction, now, settings,
                     for_seller=viewer_id is not None and str(auction.seller_id) == viewer_id,
                     viewer_id=viewer_id)
        if viewer_id is not None:
            view["watching"] = queries.is_watching(uow.session, uuid.UUID(viewer_id),
                                                   auction.id)
        return view


def search_auctions(db: Database, filters: queries.Filters, sort: str | None, limit: int,
                    cursor: str | None, settings: AuctionSettings,
                    for_seller: bool = False, count: bool = False) -> dict:
    """A page of listings: ``{"items": [...], "next_cursor": ...}`` (``None`` on the last),
    with ``count`` also ``total`` (how many match, at most ``COUNT_CAP``) and
    ``total_capped``."""
    if sort is None:
        sort = "relevance" if filters.q else "newly_listed"
    if sort == "relevance" and not filters.q:
        raise Problem(422, "validation_error", "sort=relevance needs a search (q).",
                      [{"field": "sort", "message": "relevance needs q"}])
    now = utcnow()
    with db.unit_of_work() as uow:
        auctions, next_cursor, total = queries.search(uow.session, filters, sort, limit, cursor,
                                                      now, count=count)
        images = queries.images_of(uow.session, [a.id for a in auctions])
        items = [auction_view(a, now, images[a.id], settings.media_url, for_seller)
                 for a in auctions]
    page = {"items": items, "next_cursor": next_cursor}
    if total is not None:
        page.update(total=min(total, queries.COUNT_CAP), total_capped=total > queries.COUNT_CAP)
    return page
