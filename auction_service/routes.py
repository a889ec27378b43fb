"""HTTP routes of auction_service."""

from __future__ import annotations

import uuid
from typing import Literal

from flask import Blueprint, current_app, jsonify
from pydantic import AwareDatetime, BaseModel, Field, field_validator

from auction_common.api import OpenApi
from auction_common.auth import current_user_id

from . import handlers
from .domain import CATEGORIES, CATEGORY_IDS, CURRENCIES

bp = Blueprint("auctions", __name__)
api = OpenApi("auction_service", description="The catalog: listings, schedule, search.")

MAX_PRICE = 10**12


class NewAuction(BaseModel):
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(default="", max_length=10_000)
    category: str
    currency: str = Field(min_length=3, max_length=3)
    starting_price: int = Field(gt=0, le=MAX_PRICE, description="Minor units (cents).")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORY_IDS:
            raise ValueError(f"unknown category; one of {', '.join(sorted(CATEGORY_IDS))}")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value.upper() not in CURRENCIES:
            raise ValueError(f"unsupported currency; one of {', '.join(sorted(CURRENCIES))}")
        return value.upper()


class AuctionOut(BaseModel):
    id: str
    seller_id: str
    title: str
    description: str
    category: str
    currency: str
    starting_price: int
    current_price: int
    bid_count: int
    leader_id: str | None
    starts_at: str
    ends_at: str
    created_at: str | None
    status: Literal["scheduled", "live", "ended", "cancelled"]
    outcome: str | None
    winner_id: str | None


class AuctionPage(BaseModel):
    items: list[AuctionOut]
    next_cursor: str | None


class ListQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=40)
    seller_id: uuid.UUID | None = None
    status: Literal["scheduled", "live", "ended", "cancelled"] | None = None


class Category(BaseModel):
    id: str
    name: str


class CategoryList(BaseModel):
    items: list[Category]


def _db():
    return current_app.extensions["db"]


@api.route(bp, "/api/auctions/categories", "GET", summary="The categories a listing may use",
           response=CategoryList, tag="catalog")
def categories():
    return jsonify({"items": [{"id": c, "name": n} for c, n in CATEGORIES]})


@api.route(bp, "/api/auctions", "POST", summary="List an item for auction", body=NewAuction,
           response=AuctionOut, status=201, auth=True, tag="catalog")
def create(body: NewAuction):
    seller = current_user_id()
    auction = handlers.create_auction(
        _db(), seller, body.model_dump(), current_app.extensions["settings"]
    )
    return jsonify(auction), 201


@api.route(bp, "/api/auctions", "GET", summary="Browse listings, newest first",
           query=ListQuery, response=AuctionPage, tag="catalog")
def browse(query: ListQuery):
    return jsonify(handlers.list_auctions(
        _db(), query.limit, query.cursor, query.category, query.seller_id, query.status
    ))


@api.route(bp, "/api/auctions/<uuid:auction_id>", "GET", summary="One listing",
           response=AuctionOut, errors=(404,), tag="catalog")
def show(auction_id: uuid.UUID):
    return jsonify(handlers.get_auction(_db(), auction_id))
