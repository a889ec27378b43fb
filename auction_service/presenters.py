"""How listings look from outside: the public view, and the seller's own view."""

from __future__ import annotations

from datetime import datetime

from auction_common.events import isoformat

from .domain import public_status
from .models import Auction, AuctionImage


def status_of(auction: Auction, now: datetime) -> str:
    """The listing's status at ``now``."""
    return public_status(auction.starts_at, auction.ends_at, now,
                         auction.cancelled_at is not None, auction.outcome is not None)


def image_view(image: AuctionImage, media_url: str) -> dict:
    """A photo with the URLs of its two sizes."""
    base = f"{media_url}/auctions/{image.auction_id}/{image.id}"
    return {
        "id": str(image.id),
        "position": image.position,
        "thumb_url": f"{base}_thumb.{image.format}",
        "display_url": f"{base}_display.{image.format}",
        "width": image.width,
        "height": image.height,
        "thumb_width": image.thumb_width,
        "thumb_height": image.thumb_height,
    }


def auction_view(auction: Auction, now: datetime, images: list[AuctionImage] = (),
                 media_url: str = "/media", for_seller: bool = False,
                 viewer_id: str | None = None) -> dict:
    """A listing as anyone sees it: never the reserve amount, only whether there is one and
    whether bids have met it; bidders only by their masked name. ``for_seller`` adds what only
    the seller may see (the winner too); ``viewer_id`` (the signed-in caller) sees their own id
    as ``leader_id`` / ``winner_id`` when they lead or won, nobody else's."""
    status = status_of(auction, now)
    leader = str(auction.leader_id) if auction.leader_id else None
    winner = str(auction.winner_id) if auction.winner_id else None
    has_reserve = auction.reserve_price is not None
    view = {
        "id": str(auction.id),
        "seller_id": str(auction.seller_id),
        "title": auction.title,
        "description": auction.description,
        "category": auction.category,
        "condition": auction.condition,
        "currency": auction.currency,
        "starting_price": auction.starting_price,
        "current_price": auction.current_price,
        "bid_count": auction.bid_count,
        "leader_id": leader if viewer_id is not None and leader == viewer_id else None,
        "leader_name": auction.leader_name,
        "has_reserve": has_reserve,
        "reserve_met": auction.reserve_met if has_reserve else None,
        "buy_now_price": auction.buy_now_price,
        "buy_now_available": auction.buy_now_available and status == "live",
        "increments": auction.increments,
        "anti_sniping_seconds": auction.anti_sniping_seconds,
        "starts_at": isoformat(auction.starts_at),
        "ends_at": isoformat(auction.ends_at),
        "created_at": isoformat(auction.created_at),
        "updated_at": isoformat(auction.updated_at),
        "status": status,
        "outcome": auction.outcome,
        "winner_id": winner if for_seller or (viewer_id is not None and winner == viewer_id)
        else None,
        "ended_at": isoformat(auction.ended_at),
        "cancelled_at": isoformat(auction.cancelled_at),
        "watchers_count": auction.watchers_count,
        "watchers_seq": auction.watchers_seq,
        "images": [image_view(image, media_url) for image in images],
    }
    if for_seller:
        view["reserve_price"] = auction.reserve_price
    return view
