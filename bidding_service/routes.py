"""HTTP routes of bidding_service."""

from __future__ import annotations

import uuid
from typing import Literal

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, Field

from auction_common.api import OpenApi
from auction_common.auth import current_user_id
from auction_common.errors import ApiError

from . import handlers

bp = Blueprint("bids", __name__)
api = OpenApi("bidding_service", description="Bids and the live state of auctions.")


class NewBid(BaseModel):
    auction_id: uuid.UUID
    amount: int = Field(gt=0, le=10**12, description="Your maximum, in minor units.")


class BidAnswer(BaseModel):
    bid_id: str
    auction_id: str
    status: Literal["leading", "outbid"]
    your_max: int
    current_price: int
    min_next_bid: int
    currency: str
    ends_at: str
    seq: int


class LiveState(BaseModel):
    auction_id: str
    status: Literal["scheduled", "live", "ended"]
    current_price: int
    currency: str
    bid_count: int
    leader_id: str | None
    min_next_bid: int
    starts_at: str
    ends_at: str
    seq: int
    outcome: str | None
    winner_id: str | None
    server_time: str


def _db():
    return current_app.extensions["db"]


@api.route(bp, "/api/bids", "POST", summary="Bid (your secret maximum; proxy bidding)",
           body=NewBid, response=BidAnswer, status=201, auth=True, errors=(409,), tag="bids")
def place(body: NewBid):
    bidder = current_user_id()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise ApiError(422, "validation_error", "Idempotency-Key must be 1 to 200 characters.",
                       [{"field": "Idempotency-Key", "message": "1 to 200 characters"}])
    status, answer = handlers.place_bid(_db(), bidder, body.auction_id, body.amount, key)
    return jsonify(answer), status


@api.route(bp, "/api/bids/auctions/<uuid:auction_id>", "GET", summary="Live state of an auction",
           response=LiveState, errors=(404,), tag="bids")
def state(auction_id: uuid.UUID):
    return jsonify(handlers.auction_state(_db(), auction_id))
