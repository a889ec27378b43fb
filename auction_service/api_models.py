"""The shapes of auction_service's API: request bodies, query strings and answers.

Pydantic checks each field on its own (type, bounds, known values) and names it in a 422;
rules across fields live in :mod:`auction_service.domain`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
)
from pydantic_core import PydanticCustomError

from auction_common.api import has_visible_text

from .domain import (
    ADDITION_MAX,
    ANTI_SNIPING_DEFAULT,
    ANTI_SNIPING_MAX,
    CATEGORY_IDS,
    CONDITIONS,
    CURRENCIES,
    DESCRIPTION_MAX,
    MAX_PRICE,
    STATUSES,
    TITLE_MAX,
    TITLE_MIN,
    increments_problem,
    plain_text_problem,
)
from .queries import SORTS


def _single_line(value: str) -> str:
    problem = plain_text_problem(value, multiline=False)
    if problem:
        raise PydanticCustomError("plain_text", problem)
    if not has_visible_text(value):
        raise PydanticCustomError("blank", "must not be blank (or only invisible characters)")
    return value


def _multiline(value: str) -> str:
    problem = plain_text_problem(value, multiline=True)
    if problem:
        raise PydanticCustomError("plain_text", problem)
    return value


def _searchable(value: str) -> str:
    if plain_text_problem(value, multiline=False):
        raise PydanticCustomError("plain_text", "must be plain text without control characters")
    return value


def _category(value: str) -> str:
    if value not in CATEGORY_IDS:
        raise PydanticCustomError(
            "category", "unknown category; one of {known}",
            {"known": ", ".join(sorted(CATEGORY_IDS))})
    return value


def _currency(value: str) -> str:
    if value.upper() not in CURRENCIES:
        raise PydanticCustomError(
            "currency", "unsupported currency; one of {known}",
            {"known": ", ".join(sorted(CURRENCIES))})
    return value.upper()


def _increments(value: list[IncrementBand] | None) -> list[IncrementBand] | None:
    if value is not None:
        problem = increments_problem([band.model_dump(by_alias=True) for band in value])
        if problem:
            raise PydanticCustomError("increments", problem)
    return value


Title = Annotated[str, Field(min_length=TITLE_MIN, max_length=TITLE_MAX),
                  AfterValidator(_single_line)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), AfterValidator(_multiline)]
Category = Annotated[str, Field(max_length=40), AfterValidator(_category)]
#: The domain's conditions as a closed set, so that the OpenAPI document lists them (an enum).
Condition = Literal[tuple(condition for condition, _ in CONDITIONS)]
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
Price = Annotated[StrictInt, Field(gt=0, le=MAX_PRICE, description="Minor units (cents).")]
AntiSniping = Annotated[StrictInt, Field(
    ge=0, le=ANTI_SNIPING_MAX,
    description="A bid this close to the end moves the end to now + this; 0 turns it off.")]
Duration = Annotated[StrictInt, Field(gt=0, le=10**9,
                                      description="Seconds from the start; or give ends_at.")]


class IncrementBand(BaseModel):
    """From this price on (minor units), bids go up by at least ``increment``."""

    model_config = ConfigDict(extra="forbid")
    from_: StrictInt = Field(alias="from", ge=0, le=MAX_PRICE)
    increment: StrictInt = Field(gt=0, le=MAX_PRICE)


Increments = Annotated[list[IncrementBand] | None, Field(
    description="Price bands ascending from 0, minor units; null = the default table "
                "(docs/catalog.md)."), AfterValidator(_increments)]


class NewAuction(BaseModel):
    """A listing. Give ``ends_at`` or ``duration_seconds``; ``starts_at`` defaults to now."""

    model_config = ConfigDict(extra="forbid")
    title: Title
    description: Description = ""
    category: Category
    condition: Condition | None = None
    currency: Currency
    starting_price: Price
    reserve_price: Price | None = Field(default=None, description="Hidden; above starting.")
    buy_now_price: Price | None = Field(default=None, description="Above starting and reserve.")
    increments: Increments = None
    anti_sniping_seconds: AntiSniping = ANTI_SNIPING_DEFAULT
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration_seconds: Duration | None = None


class AuctionChanges(BaseModel):
    """What a seller changes. Until the first bid anything; then only ``append_description``
    (dated text added after the description). A field given as null is removed (reserve,
    Buy-It-Now, condition), reset to the default table (increments) or to now (starts_at)."""

    model_config = ConfigDict(extra="forbid")
    # A default of None is never validated: a non-nullable field sent as null is refused.
    title: Title = None
    description: Description = None
    append_description: Annotated[str, Field(min_length=1, max_length=ADDITION_MAX),
                                  AfterValidator(_multiline)] = None
    category: Category = None
    condition: Condition | None = None
    currency: str | None = Field(default=None, description="Cannot change; cancel and relist.")
    starting_price: Price = None
    reserve_price: Price | None = None
    buy_now_price: Price | None = None
    increments: Increments = None
    anti_sniping_seconds: AntiSniping = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime = None
    duration_seconds: Duration = None

    @field_validator("currency")
    @classmethod
    def _currency_is_fixed(cls, value):
        raise PydanticCustomError(
            "currency_fixed", "the currency cannot change once listed; cancel and list again")


class RelistChanges(BaseModel):
    """What changes in the new listing (every field optional: the rest is copied). Without
    ``ends_at`` or ``duration_seconds`` it lasts as long as the old one; without
    ``starts_at`` it starts now. A field given as null is removed (reserve, Buy-It-Now,
    condition) or reset (increments to the default table)."""

    model_config = ConfigDict(extra="forbid")
    title: Title = None
    description: Description = None
    category: Category = None
    condition: Condition | None = None
    currency: Currency = None
    starting_price: Price = None
    reserve_price: Price | None = None
    buy_now_price: Price | None = None
    increments: Increments = None
    anti_sniping_seconds: AntiSniping = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime = None
    duration_seconds: Duration = None


class ImageOut(BaseModel):
    id: str
    position: int
    thumb_url: str
    display_url: str
    width: int
    height: int
    thumb_width: int
    thumb_height: int


class ImageList(BaseModel):
    items: list[ImageOut]


class ImageOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_ids: list[uuid.UUID] = Field(max_length=50)


class AuctionOut(BaseModel):
    """A listing. ``reserve_price`` only in the seller's own view; ``watching`` only for a
    signed-in viewer of one listing."""

    id: str
    seller_id: str
    title: str
    description: str
    category: str
    condition: Condition | None
    currency: str
    starting_price: int
    current_price: int
    bid_count: int
    leader_id: str | None
    leader_name: str | None = None
    has_reserve: bool
    reserve_met: bool | None
    reserve_price: int | None = None
    buy_now_price: int | None
    buy_now_available: bool = Field(description="While live: whether Buy It Now is still "
                                                "offered, as bidding_service last said "
                                                "(it decides; the catalog shows)")
    increments: list[IncrementBand] | None
    anti_sniping_seconds: int
    starts_at: str
    ends_at: str
    created_at: str | None
    updated_at: str | None
    status: Literal["scheduled", "live", "ended", "cancelled"]
    outcome: str | None
    winner_id: str | None
    ended_at: str | None
    cancelled_at: str | None
    watchers_count: int
    watchers_seq: int = Field(0, description="grows by one with every watch and unwatch; the "
                              "Socket.IO event auction.watchers carries it too, so a page keeps "
                              "the newest count")
    images: list[ImageOut]
    watching: bool | None = None
    watched_at: str | None = None


class AuctionPage(BaseModel):
    items: list[AuctionOut]
    next_cursor: str | None
    total: int | None = Field(default=None, description=(
        "Search only: how many listings match, counted up to 1,000 (total_capped says "
        "when there are more)"))
    total_capped: bool | None = None


Status = Literal[STATUSES]
#: ``open``: live or scheduled, what is still to be won.
SearchStatus = Literal[(*STATUSES, "open")]
Sort = Literal[tuple(SORTS)]


class PageQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class SearchQuery(PageQuery):
    """Search and browse. ``sort`` defaults to ``relevance`` with ``q``, else
    ``newly_listed``; ``min_price``/``max_price`` bound the current price (minor units)."""

    q: Annotated[str, Field(max_length=200), AfterValidator(_searchable)] | None = None
    category: Category | None = None
    status: SearchStatus | None = None
    condition: Condition | None = None
    seller_id: uuid.UUID | None = None
    currency: Currency | None = None
    min_price: int | None = Field(default=None, ge=0, le=MAX_PRICE)
    max_price: int | None = Field(default=None, ge=0, le=MAX_PRICE)
    sort: Sort | None = None


class MineQuery(PageQuery):
    status: Status | None = None
    sort: Sort | None = None


class WatchState(BaseModel):
    auction_id: str
    watching: bool


class Named(BaseModel):
    id: str
    name: str


class NamedList(BaseModel):
    items: list[Named]
