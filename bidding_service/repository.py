"""All SQL of bidding_service's hot path: lock, read the database clock, write."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from .domain import AuctionState

_STATE_COLUMNS = """id, seller_id, starting_price, starts_at, ends_at, closed, current_price,
    bid_count, leader_id, leader_max, seq, title, currency"""


def _state(row) -> AuctionState:
    return AuctionState(
        auction_id=str(row.id), seller_id=str(row.seller_id), starting_price=row.starting_price,
        starts_at=row.starts_at, ends_at=row.ends_at, closed=row.closed,
        current_price=row.current_price, bid_count=row.bid_count,
        leader_id=str(row.leader_id) if row.leader_id else None, leader_max=row.leader_max,
        seq=row.seq,
    )


def lock_auction(session: Session, auction_id: uuid.UUID):
    """Lock the auction's row (the serialization point); returns (state, title, currency)."""
    row = session.execute(
        text(f"SELECT {_STATE_COLUMNS} FROM bidding.auctions WHERE id = :id FOR UPDATE"),
        {"id": auction_id},
    ).first()
    if row is None:
        return None
    return _state(row), row.title, row.currency


def read_auction(session: Session, auction_id: uuid.UUID):
    """The auction's state without locking (reads); (state, row) or None."""
    row = session.execute(
        text(f"SELECT {_STATE_COLUMNS}, outcome, winner_id FROM bidding.auctions WHERE id = :id"),
        {"id": auction_id},
    ).first()
    return (_state(row), row) if row is not None else None


def database_now(session: Session) -> datetime:
    """The database's clock, read after taking the lock: the one clock every decision uses."""
    return session.execute(text("SELECT clock_timestamp()")).scalar_one()


def save_state(session: Session, state: AuctionState) -> None:
    """Write the decided state back to the locked row."""
    session.execute(
        text("""UPDATE bidding.auctions SET current_price = :price, bid_count = :count,
                leader_id = :leader, leader_max = :leader_max, seq = :seq, ends_at = :ends_at
                WHERE id = :id"""),
        {"price": state.current_price, "count": state.bid_count, "leader": state.leader_id,
         "leader_max": state.leader_max, "seq": state.seq, "ends_at": state.ends_at,
         "id": state.auction_id},
    )


def insert_bid(session: Session, bid_id: uuid.UUID, state: AuctionState, bidder_id: str,
               amount: int, status: str, seq: int | None, now: datetime) -> None:
    """Store an accepted bid."""
    session.execute(
        text("""INSERT INTO bidding.bids
                (id, auction_id, bidder_id, max_amount, price_after, status, seq, placed_at)
                VALUES (:id, :auction, :bidder, :amount, :price, :status, :seq, :now)"""),
        {"id": bid_id, "auction": state.auction_id, "bidder": bidder_id, "amount": amount,
         "price": state.current_price, "status": status, "seq": seq, "now": now},
    )


def mark_closed(session: Session, state: AuctionState, outcome: str, winner_id: str | None,
                now: datetime) -> None:
    """Record the close on the locked row."""
    session.execute(
        text("""UPDATE bidding.auctions SET closed = true, outcome = :outcome,
                winner_id = :winner, seq = :seq, closed_at = :now WHERE id = :id"""),
        {"outcome": outcome, "winner": winner_id, "seq": state.seq, "now": now,
         "id": state.auction_id},
    )


def lock_due_auctions(session: Session, limit: int) -> list[uuid.UUID]:
    """Ids of auctions past their end, locked; rows another closer holds are skipped."""
    return list(session.execute(
        text("""SELECT id FROM bidding.auctions
                WHERE NOT closed AND ends_at <= clock_timestamp()
                ORDER BY ends_at LIMIT :limit FOR UPDATE SKIP LOCKED"""),
        {"limit": limit},
    ).scalars())


def find_idempotent_response(session: Session, user_id: str, key: str):
    """The stored answer for this user's key, or None."""
    return session.execute(
        text("""SELECT fingerprint, status_code, body FROM bidding.idempotency_keys
                WHERE user_id = :user AND key = :key"""),
        {"user": user_id, "key": key},
    ).first()


def store_idempotent_response(session: Session, user_id: str, key: str, fingerprint: str,
                              status_code: int, body: dict) -> bool:
    """Remember an answer; False when a concurrent request with the same key stored first."""
    from sqlalchemy.dialects.postgresql import insert

    from .models import IdempotentResponse

    statement = (
        insert(IdempotentResponse)
        .values(user_id=uuid.UUID(user_id), key=key, fingerprint=fingerprint,
                status_code=status_code, body=body)
        .on_conflict_do_nothing()
        .returning(IdempotentResponse.key)
    )
    return session.execute(statement).first() is not None
