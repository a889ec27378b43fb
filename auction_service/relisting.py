"""Relisting: an item that did not sell (or was withdrawn) listed again as a new listing, with
the same terms and copies of its photos, and whatever the seller changes."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from auction_common import idempotency
from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow
from auction_common.problems import Problem

from .domain import check_seller
from .handlers import list_item
from .models import Auction, AuctionImage
from .photos import MediaStore
from .presenters import image_view
from .settings import AuctionSettings

#: Outcomes after which the item is still the seller's to sell.
UNSOLD = frozenset({"unsold_no_bids", "unsold_reserve_not_met", "cancelled"})
#: What a relist copies unless the seller changes it.
COPIED = ("title", "description", "category", "condition", "currency", "starting_price",
          "reserve_price", "buy_now_price", "increments", "anti_sniping_seconds")


def check_relistable(auction: Auction) -> None:
    """409 unless the listing ended without a sale or was withdrawn."""
    if auction.cancelled_at is not None or auction.outcome in UNSOLD:
        return
    if auction.outcome == "sold":
        raise Problem(409, "listing_sold", "This item sold: it cannot be relisted.")
    raise Problem(409, "listing_not_ended",
                  "Only a listing that ended unsold, or was withdrawn, can be relisted.")


def relist_auction(db: Database, auction_id: uuid.UUID, seller_id: str, changes: dict,
                   settings: AuctionSettings,
                   idempotency_key: str | None = None) -> idempotency.Answer:
    """List an unsold item again: a new listing (``auction.created``) with the old one's terms
    and photos, ``changes`` applied, starting now (unless ``starts_at``) and lasting as long as
    the old one did (unless ``ends_at`` or ``duration_seconds``). Returns (201, the new
    listing as its seller sees it). With an ``Idempotency-Key`` a retry answers the same."""

    def decide(uow: UnitOfWork) -> tuple[idempotency.Answer, bool]:
        old = uow.session.get(Auction, auction_id)
        if old is None:
            raise Problem(404, "auction_not_found", "No such auction.")
        check_seller(old.seller_id, seller_id)
        check_relistable(old)
        view = list_item(uow, seller_id, _listing(old, changes, settings), settings)
        view["images"] = _copy_photos(uow, old.id, uuid.UUID(view["id"]), settings)
        return (201, view), True

    return idempotency.run_once(db, seller_id, idempotency_key,
                                idempotency.fingerprint("relist", auction_id, changes), decide)


def _listing(old: Auction, changes: dict, settings: AuctionSettings) -> dict:
    listing = {field: getattr(old, field) for field in COPIED}
    listing.update(changes)  # without starts_at, the new listing starts now
    if "ends_at" not in changes and "duration_seconds" not in changes:
        limits = settings.schedule_limits
        lasted = int((old.ends_at - old.starts_at).total_seconds())
        listing["duration_seconds"] = min(max(lasted, limits.min_duration_seconds),
                                          limits.max_duration_seconds)
    return listing


def _copy_photos(uow: UnitOfWork, source: uuid.UUID, target: uuid.UUID,
                 settings: AuctionSettings) -> list[dict]:
    """Copy the old listing's photos (files and rows) to the new one, in their order. A
    failure removes the copies already made (the transaction then writes nothing)."""
    store, copied, views = MediaStore(settings.media_root), [], []
    now: datetime = utcnow()
    images = uow.session.scalars(select(AuctionImage).where(AuctionImage.auction_id == source)
                                 .order_by(AuctionImage.position)).all()
    try:
        for image in images:
            new = AuctionImage(id=uuid.uuid4(), auction_id=target, position=image.position,
                               format=image.format, width=image.width, height=image.height,
                               thumb_width=image.thumb_width, thumb_height=image.thumb_height,
                               created_at=now)
            for old_path, new_path in zip(store.paths_of(image), store.paths_of(new),
                                          strict=True):
                _copy(old_path, new_path)
                copied.append(new_path)
            uow.session.add(new)
            views.append(image_view(new, settings.media_url))
        uow.session.flush()
    except BaseException:
        store.remove(copied)
        raise
    return views


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(source, target)
    except FileNotFoundError:
        raise Problem(409, "photo_missing", "A photo of this listing is missing from storage; "
                                            "remove it and try again.") from None
