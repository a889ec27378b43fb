"""Tables of the ``notifications`` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from auction_common.db import messaging_tables
from auction_common.suspension import account_status_table

SCHEMA = "notifications"
#: How the database computes ``Notification.unread_outbid_of``.
UNREAD_OUTBID_OF = ("CASE WHEN kind = 'outbid' AND read_at IS NULL "
                    "THEN user_id::text || ' ' || (data ->> 'auction_id') END")
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


class Contact(Base):
    """A replica of a user's contact data, from ``user.registered`` / ``user.updated``."""

    __tablename__ = "contacts"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: The account's version from user_service's events: only a newer one is applied.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Notification(Base):
    """An in-app notification."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "user_id", "created_at"),
                      Index("ix_notifications_unread", "user_id",
                            postgresql_where=text("read_at IS NULL")),
                      # A bidder's unread outbid notice on an auction (the quiet period).
                      Index("ix_notifications_unread_outbid", "unread_outbid_of", "created_at",
                            postgresql_where=text("unread_outbid_of IS NOT NULL")))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: ``"<bidder> <auction>"`` of an unread outbid notice (null for any other), kept by the
    #: database: the key the quiet period looks a notice up by (``outbid``). A column of its
    #: own, not an index on ``data``: a notice brought up to date changes ``data``, and an
    #: index on it would make every such update write new index entries (no HOT update),
    #: which a bidding war piles up faster than vacuum clears them. Unread in the key, not in
    #: the look-up's condition: with ``read_at IS NULL`` there, the index of unread notices by
    #: user fitted it too, and a plan made while the table was small walked all of it.
    unread_outbid_of: Mapped[str | None] = mapped_column(
        Text, Computed(UNREAD_OUTBID_OF, persisted=True))


class EmailPreference(Base):
    """Whether a user wants a kind of notification by email too (no row: yes)."""

    __tablename__ = "email_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EmailDelivery(Base):
    """An email to send, with its retries. Sent once the user's address is known."""

    __tablename__ = "email_deliveries"
    __table_args__ = (
        Index("ix_deliveries_pending", "next_attempt_at",
              postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    notification_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                      server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Signed token turning this kind's email off (optional kinds only): the email's
    #: unsubscribe link and List-Unsubscribe headers carry it.
    unsubscribe_token: Mapped[str | None] = mapped_column(String(200))


class Watch(Base):
    """Someone watching a listing, to be reminded once before it ends."""

    __tablename__ = "watches"
    __table_args__ = (
        Index("ix_watches_due", "ends_at", postgresql_where=text("reminded_at IS NULL")),
    )

    auction_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The ``seq`` of the newest extension applied and the listing ``version`` of the newest
    #: edit applied: an older one, delivered late, never moves the end back.
    end_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    listing_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class FinishedAuction(Base):
    """An auction that ended or was withdrawn: a late ``auction.watched`` must not bring a
    watch (and a reminder) back for it."""

    __tablename__ = "finished_auctions"

    auction_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())


class Sale(Base):
    """A sold auction's two parties, from ``auction.ended``: who may see whose contact."""

    __tablename__ = "sales"

    auction_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seller_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    buyer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    title: Mapped[str] = mapped_column(String(200))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """A secret this service made for itself (the unsubscribe tokens' key): one per name,
    created on first use, shared by every replica through the database."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


outbox, inbox = messaging_tables(metadata)
#: Each account's status (suspended accounts are refused: auction_common.suspension).
account_statuses = account_status_table(metadata)
