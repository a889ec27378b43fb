"""Tables of the ``bidding`` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from auction_common.db import messaging_tables
from auction_common.idempotency import idempotency_table

SCHEMA = "bidding"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


class LiveAuction(Base):
    """The one serialization point of an auction: bids and the close lock this row."""

    __tablename__ = "auctions"
    __table_args__ = (
        Index("ix_bidding_auctions_due", "ends_at", postgresql_where=text("NOT closed")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seller_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    title: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    starting_price: Mapped[int] = mapped_column(BigInteger)
    reserve_price: Mapped[int | None] = mapped_column(BigInteger)
    buy_now_price: Mapped[int | None] = mapped_column(BigInteger)
    #: The listing's own price bands [[from, increment], ...]; NULL = the default table.
    increments: Mapped[list | None] = mapped_column(JSONB)
    anti_sniping_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    current_price: Mapped[int] = mapped_column(BigInteger)
    bid_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    leader_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    leader_max: Mapped[int | None] = mapped_column(BigInteger)
    #: The leader's display name, masked as the public sees it (a***e).
    leader_name: Mapped[str | None] = mapped_column(String(60))
    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    outcome: Mapped[str | None] = mapped_column(String(40))
    winner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The catalog's version of the listing whose terms this row holds: an older
    #: ``auction.created`` / ``auction.updated`` delivered late never undoes a newer one.
    terms_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Bid(Base):
    """An accepted bid as its bidder submitted it: their (secret) maximum, or a buy-now."""

    __tablename__ = "bids"
    __table_args__ = (Index("ix_bids_auction_seq", "auction_id", "seq"),
                      Index("ix_bids_bidder", "bidder_id", "auction_id"))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    auction_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    bidder_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    max_amount: Mapped[int] = mapped_column(BigInteger)
    price_after: Mapped[int] = mapped_column(BigInteger)
    #: leading | outbid | raised (a secret raise of one's own maximum) | bought
    status: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The order bids were decided in (drawn under the auction's row lock): bids decided
    #: together share ``placed_at``, and a secret raise has no ``seq``.
    number: Mapped[int] = mapped_column(BigInteger, Identity())


class HistoryEntry(Base):
    """A line of the public bid history; ``bid_count`` counts these."""

    __tablename__ = "bid_history"

    auction_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    bid_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    bidder_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    current_price: Mapped[int] = mapped_column(BigInteger)
    auto: Mapped[bool] = mapped_column(Boolean)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Bidder(Base):
    """A replica of what bidding needs about a user (from user.registered / user.updated)."""

    __tablename__ = "bidders"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    #: The account's version from user_service's events: only a newer one is applied.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


outbox, inbox = messaging_tables(metadata)
#: The first answer to a POST carrying an ``Idempotency-Key``, replayed on retries.
idempotency_keys = idempotency_table(metadata)
