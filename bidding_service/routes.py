"""HTTP routes of bidding_service."""

from __future__ import annotations

import uuid
from typing import Literal

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel, Field, StrictInt

from auction_common import idempotency
from auction_common.api import OpenApi, UtcDateTime
from auction_common.auth import current_user_id, viewer_id
from auction_common.problems import Problem
from auction_common.suspension import checks_standing_itself

from . import handlers

bp = Blueprint("bids", __name__)
api = OpenApi("bidding_service", description="Bids and the live state of auctions.")


class NewBid(BaseModel):
    auction_id: uuid.UUID
    # Strict like a listing's prices: "1100", 1150.0 or true are not amounts of money.
    amount: StrictInt = Field(gt=0, le=10**12, description="Your maximum, in minor units.")


class PriceBand(BaseModel):
    from_: int = Field(alias="from", ge=0)
    increment: int = Field(ge=1)


class ListingTerms(BaseModel):
    """The catalog's snapshot of a listing, as in ``auction.created``."""

    auction_id: uuid.UUID
    seller_id: uuid.UUID
    title: str = Field(min_length=1, max_length=120)
    currency: str = Field(pattern="^[A-Z]{3}$")
    starting_price: int = Field(gt=0, le=10**12)
    reserve_price: int | None = Field(default=None, gt=0, le=10**12)
    buy_now_price: int | None = Field(default=None, gt=0, le=10**12)
    increments: list[PriceBand] | None = None
    anti_sniping_seconds: int = Field(default=0, ge=0, le=86400)
    starts_at: UtcDateTime
    ends_at: UtcDateTime


class SellerChange(BaseModel):
    listing: ListingTerms
    version: int = Field(ge=1, le=2**31 - 1, description="The catalog's version of the listing")


class SellerChangeAnswer(BaseModel):
    auction_id: str
    terms_version: int
    seq: int | None = Field(default=None, description="The auction's sequence number then "
                                                      "(new terms only)")
    buy_now_available: bool | None = Field(
        default=None, description="Whether Buy It Now is offered under the new terms "
                                  "(new terms only), as bidding decides it")
    outcome: str | None = Field(default=None, description="`cancelled` (a withdrawal only)")


class BidAnswer(BaseModel):
    bid_id: str
    auction_id: str
    status: Literal["leading", "outbid"]
    your_max: int
    current_price: int
    min_next_bid: int
    currency: str
    reserve_met: bool
    buy_now_available: bool = Field(description="Whether Buy It Now is still offered after "
                                                "this bid (bidding decides it)")
    ends_at: str
    seq: int


class BuyNowAnswer(BaseModel):
    bid_id: str
    auction_id: str
    status: Literal["won"]
    price: int
    currency: str
    seq: int


class LiveState(BaseModel):
    auction_id: str
    status: Literal["scheduled", "live", "ended"]
    current_price: int
    currency: str
    bid_count: int
    leader_id: str | None = Field(description="Your own id when you lead (with a token); "
                                              "nobody else's")
    leader_name: str | None = Field(description="The leader's display name, masked: a***e")
    min_next_bid: int
    has_reserve: bool
    reserve_met: bool
    buy_now_price: int | None = Field(description="Offered while Buy It Now is available.")
    buy_now_available: bool = Field(description="Whether anyone may buy it now: live, and "
                                                "before the first bid (or, with a reserve, "
                                                "before it is met). Bidding decides it; "
                                                "pages show it.")
    starts_at: str
    ends_at: str
    seq: int
    outcome: str | None
    winner_id: str | None = Field(description="The winner's id, to the winner and the seller")
    server_time: str
    you_lead: bool | None = Field(default=None, description="With a token: whether you lead")
    you_won: bool | None = Field(default=None, description="With a token: whether you won")


class HistoryQuery(BaseModel):
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=2, le=200)


class HistoryItem(BaseModel):
    bid_id: str = Field(description="The submitted bid this line comes from (a proxy's "
                                    "automatic line shares the id of the bid that caused it)")
    seq: int
    line: int = Field(description="Position within the seq: (seq, line) is unique")
    bidder: str = Field(description="The bidder's display name, masked: a***e")
    current_price: int = Field(description="The visible price after this entry")
    placed_at: str
    auto: bool = Field(description="Placed by the system for a proxy maximum")
    yours: bool | None = Field(default=None, description="Only for a signed-in caller: "
                                                         "whether the line is the caller's")


class History(BaseModel):
    auction_id: str
    items: list[HistoryItem]
    next_cursor: str | None = Field(description="Pass as after_seq for the next page")
    seq: int


class MineQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: UtcDateTime | None = Field(default=None, description="last_bid_at of the last item")
    auction_id: uuid.UUID | None = Field(default=None, description="Only this auction")


class MyAuction(BaseModel):
    auction_id: str
    title: str
    status: Literal["leading", "outbid", "won", "lost"]
    your_max: int
    current_price: int
    currency: str
    ends_at: str
    outcome: str | None
    last_bid_at: str


class MyAuctions(BaseModel):
    items: list[MyAuction]
    next_cursor: str | None


def _db():
    return current_app.extensions["db"]



@api.route(bp, "/api/bids", "POST", summary="Bid (your secret maximum; proxy bidding)",
           body=NewBid, response=BidAnswer, status=201, auth=True, errors=(409, 503),
           tag="bids")
@checks_standing_itself
def place(body: NewBid):
    bidder = current_user_id()
    status, answer = handlers.place_bid(_db(), bidder, body.auction_id, body.amount,
                                        idempotency.request_key(),
                                        current_app.extensions["bid_batcher"])
    # 503 commit_unknown: the same Idempotency-Key, sent again in a moment, gets the answer.
    return jsonify(answer), status, {"Retry-After": "1"} if status == 503 else {}


@api.route(bp, "/api/bids/auctions/<uuid:auction_id>/buy-now", "POST",
           summary="Buy It Now: ends the auction at once", response=BuyNowAnswer, status=201,
           auth=True, errors=(404, 409), tag="bids")
@checks_standing_itself
def buy_now(auction_id: uuid.UUID):
    status, answer = handlers.buy_now(_db(), current_user_id(), auction_id,
                                      idempotency.request_key())
    return jsonify(answer), status


@api.route(bp, "/api/bids/auctions/<uuid:auction_id>/history", "GET",
           summary="Public bid history after a seq (names masked)", query=HistoryQuery,
           response=History, errors=(404,), tag="bids")
def history(auction_id: uuid.UUID, query: HistoryQuery):
    return jsonify(handlers.bid_history(_db(), auction_id, query.after_seq, query.limit,
                                        viewer_id=viewer_id()))


@api.route(bp, "/api/bids/mine", "GET", summary="Auctions I bid on, with my status",
           query=MineQuery, response=MyAuctions, auth=True, tag="bids")
def mine(query: MineQuery):
    return jsonify(handlers.my_bids(_db(), current_user_id(), query.limit, query.cursor,
                                    auction_id=query.auction_id))


@api.route(bp, "/api/bids/auctions/<uuid:auction_id>", "GET", summary="Live state of an auction",
           response=LiveState, errors=(404,), tag="bids")
def state(auction_id: uuid.UUID):
    return jsonify(handlers.auction_state(_db(), auction_id, viewer_id()))



# The catalog's calls: bidding decides what bids decide (withdrawing, new terms) under the
# auction's row lock, before the catalog saves the seller's change. Not routed by the gateway.
def _listing(body: SellerChange, auction_id: uuid.UUID) -> dict:
    listing = body.listing.model_dump(mode="json", by_alias=True)
    if listing["auction_id"] != str(auction_id):
        raise Problem(422, "validation_error", "The listing is not this auction.",
                      [{"field": "listing.auction_id", "message": "does not match the path"}])
    return listing


@api.route(bp, "/internal/auctions/<uuid:auction_id>/terms", "PUT",
           summary="(catalog) New terms of a listing, if nobody has bid", body=SellerChange,
           response=SellerChangeAnswer, auth=True, errors=(403, 409), tag="internal")
def change_terms(auction_id: uuid.UUID, body: SellerChange):
    return jsonify(handlers.change_terms(_db(), auction_id, current_user_id(),
                                         _listing(body, auction_id), body.version))


@api.route(bp, "/internal/auctions/<uuid:auction_id>/withdraw", "POST",
           summary="(catalog) Withdraw a listing, if nobody has bid", body=SellerChange,
           response=SellerChangeAnswer, auth=True, errors=(403, 409), tag="internal")
def withdraw(auction_id: uuid.UUID, body: SellerChange):
    return jsonify(handlers.withdraw_listing(_db(), auction_id, current_user_id(),
                                             _listing(body, auction_id), body.version))

