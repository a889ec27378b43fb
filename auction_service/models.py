"""Tables of the ``auctions`` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from auction_common.db import messaging_tables
from auction_common.idempotency import idempotency_table
from auction_common.suspension import account_status_table

SCHEMA = "auctions"
metadata = MetaData(schema=SCHEMA)

#: The text search configuration of the catalog (stemming, stop words).
SEARCH_CONFIG = "english"
#: Title words weigh more than description words in the ranking (A > B).
SEARCH_VECTOR_SQL = (
    f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce(description, '')), 'B')"
)
#: The title's words alone: relevance ranks the listings whose title matches first, and this
#: index finds them without reading every match (auction_service.queries).
TITLE_VECTOR_SQL = f"to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce(title, ''))"


class Base(DeclarativeBase):
    metadata = metadata


class Auction(Base):
    """A listing, plus the read model of its bidding (from bid events, ordered by ``last_seq``).

    Every browse order has an index ending in ``id``, so that keyset pages are index scans."""

    __tablename__ = "auctions"
    __table_args__ = (
        Index("ix_auctions_created", "created_at", "id"),
        Index("ix_auctions_ending", "ends_at", "id"),
        Index("ix_auctions_price", "current_price", "id"),
        Index("ix_auctions_bids", "bid_count", "id"),
        Index("ix_auctions_seller_created", "seller_id", "created_at", "id"),
        Index("ix_auctions_category_created", "category", "created_at", "id"),
        Index("ix_auctions_search", "search_vector", postgresql_using="gin"),
        Index("ix_auctions_title_search", "title_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seller_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40))
    condition: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    starting_price: Mapped[int] = mapped_column(BigInteger)
    reserve_price: Mapped[int | None] = mapped_column(BigInteger)
    buy_now_price: Mapped[int | None] = mapped_column(BigInteger)
    increments: Mapped[list | None] = mapped_column(JSONB)
    anti_sniping_seconds: Mapped[int] = mapped_column(Integer, server_default="120")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Grows by one with every change the seller makes; carried by the catalog's events so
    #: that their consumers apply only what is newer than what they hold.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    watchers_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Grows by one with every watch and unwatch: the events that carry the count carry it too,
    #: so that a page shown them out of order keeps the newest count.
    watchers_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True
    )
    title_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(TITLE_VECTOR_SQL, persisted=True), deferred=True
    )
    # Read model, from bidding_service's events.
    current_price: Mapped[int] = mapped_column(BigInteger)
    bid_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    leader_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    #: The leader's display name as the public sees it (masked by bidding: a***e).
    leader_name: Mapped[str | None] = mapped_column(String(60))
    reserve_met: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    #: bidding_service's word on whether Buy It Now is still offered (bid.placed, and its
    #: answer to a change of terms): shown, never decided here; the listing's status (live)
    #: still gates it, as time ends an auction before bidding says so.
    buy_now_available: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default="false")
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    outcome: Mapped[str | None] = mapped_column(String(40))
    winner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuctionImage(Base):
    """A listing's photo: its files live under ``MEDIA_ROOT/auctions/<auction_id>/``."""

    __tablename__ = "auction_images"
    __table_args__ = (Index("ix_auction_images_auction", "auction_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    auction_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("auctions.auctions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    #: File extension of both sizes (``webp``).
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    thumb_width: Mapped[int] = mapped_column(Integer)
    thumb_height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Watch(Base):
    """A user watching a listing."""

    __tablename__ = "watches"
    __table_args__ = (
        Index("ix_watches_user_created", "user_id", "created_at", "auction_id"),
        Index("ix_watches_auction", "auction_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    auction_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("auctions.auctions.id", ondelete="CASCADE"),
        primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


outbox, inbox = messaging_tables(metadata)
#: Each account's status (suspended accounts are refused: auction_common.suspension).
account_statuses = account_status_table(metadata)
#: The first answer to a POST carrying an ``Idempotency-Key`` (listing an item), replayed.
idempotency_keys = idempotency_table(metadata)
