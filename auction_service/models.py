"""Tables of the ``auctions`` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, MetaData, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from auction_common.db import messaging_tables

SCHEMA = "auctions"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


class Auction(Base):
    """A listing, plus the read model of its bidding (from bid events, ordered by ``last_seq``)."""

    __tablename__ = "auctions"
    __table_args__ = (
        Index("ix_auctions_created", "created_at", "id"),
        Index("ix_auctions_ends_at", "ends_at"),
        Index("ix_auctions_seller", "seller_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seller_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    starting_price: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Read model, from bidding_service's events.
    current_price: Mapped[int] = mapped_column(BigInteger)
    bid_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    leader_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    outcome: Mapped[str | None] = mapped_column(String(40))
    winner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


outbox, inbox = messaging_tables(metadata)
