"""Use cases of bidding_service: placing a bid, closing due auctions, reading state."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

from auction_common.db import Database, UnitOfWork
from auction_common.events import isoformat, utcnow
from auction_common.problems import Problem

from . import repository
from .domain import AuctionState, BidRejected, decide_bid, decide_close


def _money_fields(state: AuctionState) -> dict:
    return {"current_price": state.current_price, "min_next_bid": state.min_next_bid()}


def _publish_bid_events(uow: UnitOfWork, state: AuctionState, bid_id: uuid.UUID, title: str,
                        currency: str, outbid_user_id: str | None, now: datetime) -> None:
    uow.publish("bid.placed", {
        "auction_id": state.auction_id, "bid_id": str(bid_id), "seq": state.seq,
        "current_price": state.current_price, "currency": currency,
        "bid_count": state.bid_count, "leader_id": state.leader_id,
        "min_next_bid": state.min_next_bid(), "ends_at": isoformat(state.ends_at),
        "placed_at": isoformat(now),
    })
    if outbid_user_id:
        uow.publish("bid.outbid", {
            "auction_id": state.auction_id, "seq": state.seq, "user_id": outbid_user_id,
            "title": title, "currency": currency, "current_price": state.current_price,
            "min_next_bid": state.min_next_bid(), "ends_at": isoformat(state.ends_at),
        })


def _fingerprint(auction_id: str, amount: int) -> str:
    return hashlib.sha256(json.dumps([auction_id, amount]).encode()).hexdigest()


def place_bid(db: Database, bidder_id: str, auction_id: uuid.UUID, amount: int,
              idempotency_key: str | None = None) -> tuple[int, dict]:
    """Decide a bid under the auction row's lock; returns (HTTP status, body).

    The bid, the new state and the events are committed together. With an idempotency key,
    the first answer (acceptance or refusal) is stored in the same transaction and every
    retry gets it back instead of placing a second bid.
    """
    fingerprint = _fingerprint(str(auction_id), amount)
    if idempotency_key:
        replay = _replay(db, bidder_id, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    with db.unit_of_work() as uow:
        session = uow.session
        locked = repository.lock_auction(session, auction_id)
        if locked is None:
            answer = _refusal(Problem(422, "auction_not_found", "No such auction."))
        else:
            state, title, currency = locked
            now = repository.database_now(session)
            try:
                decision = decide_bid(state, bidder_id, amount, now)
            except BidRejected as rejection:
                answer = _refusal(rejection)
            else:
                new = decision.state
                bid_id = uuid.uuid4()
                repository.save_state(session, new)
                repository.insert_bid(session, bid_id, new, bidder_id, amount, decision.status,
                                      new.seq if decision.visible else None, now)
                if decision.visible:
                    _publish_bid_events(uow, new, bid_id, title, currency,
                                        decision.outbid_user_id, now)
                answer = (201, {
                    "bid_id": str(bid_id), "auction_id": new.auction_id,
                    "status": decision.status, "your_max": amount, **_money_fields(new),
                    "currency": currency, "ends_at": isoformat(new.ends_at), "seq": new.seq,
                })
        if idempotency_key and not repository.store_idempotent_response(
            session, bidder_id, idempotency_key, fingerprint, answer[0], answer[1]
        ):
            session.rollback()
            return _replay(db, bidder_id, idempotency_key, fingerprint)
        uow.commit()
        return answer


def _refusal(problem: Problem) -> tuple[int, dict]:
    return problem.status, {"error": {"code": problem.code, "message": problem.message,
                                      "details": problem.details}}


def _replay(db: Database, user_id: str, key: str, fingerprint: str) -> tuple[int, dict] | None:
    with db.unit_of_work() as uow:
        stored = repository.find_idempotent_response(uow.session, user_id, key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        return _refusal(Problem(
            409, "idempotency_conflict",
            "This Idempotency-Key was already used for a different request.",
        ))
    return stored.status_code, stored.body


def close_due_auctions(db: Database, limit: int = 100) -> int:
    """Close every auction past its end, each exactly once; returns how many were closed.

    Rows are locked with SKIP LOCKED, so several closers (and bids in flight) never block
    each other; the decision uses the database's clock read under the lock.
    """
    with db.unit_of_work() as uow:
        session = uow.session
        closed = 0
        for auction_id in repository.lock_due_auctions(session, limit):
            state, title, currency = repository.lock_auction(session, auction_id)
            now = repository.database_now(session)
            decision = decide_close(state, now)
            if decision is None:
                continue
            repository.mark_closed(session, decision.state, decision.outcome,
                                   decision.winner_id, now)
            uow.publish("auction.ended", {
                "auction_id": state.auction_id, "seq": decision.state.seq,
                "outcome": decision.outcome, "winner_id": decision.winner_id,
                "price": decision.price, "currency": currency, "title": title,
                "seller_id": state.seller_id, "ended_at": isoformat(now),
            })
            closed += 1
        uow.commit()
        return closed


def auction_state(db: Database, auction_id: uuid.UUID) -> dict:
    """The public live state of an auction; 404 ``auction_not_found``."""
    with db.unit_of_work() as uow:
        found = repository.read_auction(uow.session, auction_id)
        now = repository.database_now(uow.session)
    if found is None:
        raise Problem(404, "auction_not_found", "No such auction.")
    state, row = found
    return {
        "auction_id": state.auction_id,
        "status": state.status(now),
        "current_price": state.current_price,
        "currency": row.currency,
        "bid_count": state.bid_count,
        "leader_id": state.leader_id,
        "min_next_bid": state.min_next_bid(),
        "starts_at": isoformat(state.starts_at),
        "ends_at": isoformat(state.ends_at),
        "seq": state.seq,
        "outcome": row.outcome,
        "winner_id": str(row.winner_id) if row.winner_id else None,
        "server_time": isoformat(now if now else utcnow()),
    }
