"""Use cases of a listing's photos: add, remove, reorder; the files under ``MEDIA_ROOT``."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import func, select

from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow
from auction_common.problems import Problem

from .domain import EDITABLE_AFTER_FIRST_BID, check_changeable, check_seller
from .imaging import ProcessedImage, process_image_off_the_loop
from .models import Auction, AuctionImage
from .presenters import image_view, status_of
from .queries import locked_listing
from .settings import AuctionSettings

MAX_IMAGES_PER_LISTING = 10
SIZES = ("thumb", "display")


class MediaStore:
    """Photo files: ``<root>/auctions/<auction_id>/<image_id>_<size>.<ext>``."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, auction_id: uuid.UUID, image_id: uuid.UUID, size: str, ext: str) -> Path:
        return self.root / "auctions" / str(auction_id) / f"{image_id}_{size}.{ext}"

    def write(self, auction_id: uuid.UUID, image_id: uuid.UUID,
              image: ProcessedImage) -> list[Path]:
        """Write both sizes, each atomically (a reader never sees half a file)."""
        written = []
        for size, rendition in (("thumb", image.thumb), ("display", image.display)):
            target = self.path(auction_id, image_id, size, image.extension)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as out:
                out.write(rendition.data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
            written.append(target)
        return written

    def remove(self, paths: list[Path]) -> None:
        """Delete files, ignoring those already gone."""
        for path in paths:
            path.unlink(missing_ok=True)

    def paths_of(self, image: AuctionImage) -> list[Path]:
        return [self.path(image.auction_id, image.id, size, image.format) for size in SIZES]


def _check_may_change_photos(uow: UnitOfWork, auction: Auction, user_id: str) -> None:
    check_seller(auction.seller_id, user_id)
    check_changeable(status_of(auction, utcnow()), auction.bid_count, {"images"},
                     EDITABLE_AFTER_FIRST_BID)


def _count(uow: UnitOfWork, auction_id: uuid.UUID) -> int:
    return uow.session.scalar(select(func.count()).select_from(AuctionImage)
                              .where(AuctionImage.auction_id == auction_id))


def _check_room(uow: UnitOfWork, auction_id: uuid.UUID) -> int:
    count = _count(uow, auction_id)
    if count >= MAX_IMAGES_PER_LISTING:
        raise Problem(409, "too_many_images",
                      f"A listing may have at most {MAX_IMAGES_PER_LISTING} photos.")
    return count


def add_photo(db: Database, auction_id: uuid.UUID, user_id: str, data: bytes,
              settings: AuctionSettings) -> dict:
    """Decode, clean and store an uploaded photo as the listing's last one."""
    with db.unit_of_work() as uow:  # refuse early, before the costly decoding
        auction = uow.session.get(Auction, auction_id)
        if auction is None:
            raise Problem(404, "auction_not_found", "No such auction.")
        _check_may_change_photos(uow, auction, user_id)
        _check_room(uow, auction_id)
    processed = process_image_off_the_loop(data)
    store = MediaStore(settings.media_root)
    image_id = uuid.uuid4()
    written = store.write(auction_id, image_id, processed)
    try:
        with db.unit_of_work() as uow:
            auction = locked_listing(uow.session, auction_id)
            _check_may_change_photos(uow, auction, user_id)
            image = AuctionImage(
                id=image_id, auction_id=auction_id, position=_check_room(uow, auction_id),
                format=processed.extension, width=processed.display.width,
                height=processed.display.height, thumb_width=processed.thumb.width,
                thumb_height=processed.thumb.height, created_at=utcnow())
            uow.session.add(image)
            auction.updated_at = image.created_at
            uow.commit()
            return image_view(image, settings.media_url)
    except BaseException:
        store.remove(written)
        raise


def _ordered(uow: UnitOfWork, auction_id: uuid.UUID) -> list[AuctionImage]:
    return list(uow.session.scalars(select(AuctionImage)
                                    .where(AuctionImage.auction_id == auction_id)
                                    .order_by(AuctionImage.position)))


def remove_photo(db: Database, auction_id: uuid.UUID, image_id: uuid.UUID, user_id: str,
                 settings: AuctionSettings) -> None:
    """Delete a photo and its files; the others close the gap."""
    with db.unit_of_work() as uow:
        auction = locked_listing(uow.session, auction_id)
        _check_may_change_photos(uow, auction, user_id)
        images = _ordered(uow, auction_id)
        image = next((i for i in images if i.id == image_id), None)
        if image is None:
            raise Problem(404, "image_not_found", "The listing has no such photo.")
        uow.session.delete(image)
        uow.session.flush()
        for position, kept in enumerate(i for i in images if i.id != image_id):
            kept.position = position
        auction.updated_at = utcnow()
        uow.commit()
    MediaStore(settings.media_root).remove(MediaStore(settings.media_root).paths_of(image))


def reorder_photos(db: Database, auction_id: uuid.UUID, image_ids: list[uuid.UUID],
                   user_id: str, settings: AuctionSettings) -> list[dict]:
    """Put the listing's photos in the given order (every photo, each once)."""
    with db.unit_of_work() as uow:
        auction = locked_listing(uow.session, auction_id)
        _check_may_change_photos(uow, auction, user_id)
        images = {image.id: image for image in _ordered(uow, auction_id)}
        if len(image_ids) != len(set(image_ids)) or set(image_ids) != set(images):
            message = "List every photo of the listing exactly once."
            raise Problem(422, "validation_error", message,
                          [{"field": "image_ids", "message": message}])
        for position, image_id in enumerate(image_ids):
            images[image_id].position = position
        auction.updated_at = utcnow()
        uow.commit()
        return [image_view(images[i], settings.media_url) for i in image_ids]
