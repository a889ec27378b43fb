"""Use cases of bidding_service: bid, buy now, close, cancel, and the reads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from prometheus_client import Histogram
from sqlalchemy.exc import DBAPIError

from auction_common import idempotency
from auction_common.db import Database, UnitOfWork, is_unavailable
from auction_common.events import isoformat
from auction_common.problems import Problem

from . import repository
from .batching import KeyedBatcher
from .domain import (
    AuctionState,
    BidDecision,
    BidRejected,
    CloseDecision,
    check_bidder_standing,
    check_seller_may_change,
    decide_bid,
    decide_buy_now,
    decide_cancel,
    decide_close,
    mask_name,
)

log = logging.getLogger(__name__)
Answer = idempotency.Answer

#: How many bids, and on how many auctions, each bid transaction decided (see ``ALL_BIDS``).
GROUP_SIZES = Histogram("bid_group_size", "Bids, and auctions, decided by one bid transaction",
                        ["of"], buckets=(1, 2, 4, 8, 16, 32, 64))


def _refusal(problem: Problem) -> Answer:
    return problem.status, problem.body()


@dataclass(eq=False)
class BidRequest:
    """One POST /api/bids waiting for its answer."""

    auction_id: uuid.UUID
    bidder_id: str
    amount: int
    key: str | None
    fingerprint: str
    answer: Answer | None = None
    #: What the database refused for this request alone (re-raised to its caller only).
    error: Exception | None = None


def place_bid(db: Database, bidder_id: str, auction_id: uuid.UUID, amount: int,
              idempotency_key: str | None = None,
              batcher: KeyedBatcher[BidRequest] | None = None) -> Answer:
    """Decide a bid under the auction row's lock; returns (HTTP status, body).

    With a ``batcher``, bids arriving together are decided together, in one transaction (see
    :func:`decide_bids`); each answer is what that bid alone would have got."""
    # The fingerprint only matters with a key: no hashing on the bid path without one.
    request = BidRequest(auction_id, bidder_id, amount, idempotency_key,
                         idempotency.fingerprint("bid", auction_id, amount)
                         if idempotency_key else "")
    if idempotency_key:
        replay = idempotency.replay(db, bidder_id, idempotency_key, request.fingerprint)
        if replay is not None:
            return replay
    if batcher is None:
        decide_bids(db, [request])
    else:
        batcher.submit(ALL_BIDS, request)
    if request.error is not None:
        raise request.error
    assert request.answer is not None
    return request.answer


#: The batcher's one key: a web process has one group of bids in its database at a time, and
#: the bids arriving meanwhile, on any auctions, go together in the next. Over 1,000 auctions
#: (paired runs, the stack's 2 web processes): against a group per auction, as before, 1.31x
#: the bids per second and 0.50x the p99 at 16 bidders; against two groups at once (a lane
#: for each half of the auctions), 1.23x and 0.55x at 16 bidders, 1.14x and 0.61x at 64.
ALL_BIDS = "bids"


def decide_bids(db: Database, requests: Sequence[BidRequest]) -> None:
    """Decide bids, on one auction or several, in arrival order under ONE hold of each
    auction's row lock: the same decisions as one transaction each (each sees the state the
    previous one on its auction left), with one write and one commit for all. Sets each
    request's ``answer``.

    A retry inside the group, or a request whose twin (same key) committed meanwhile in
    another process, replays the stored answer; a group the database refuses is decided again
    one request at a time, so that one request cannot fail the others."""
    todo, replays, keys, unknowns = [], [], set(), 0
    for request in requests:
        if request.key and (request.bidder_id, request.key) in keys:
            replays.append(request)
        else:
            todo.append(request)
            if request.key:
                keys.add((request.bidder_id, request.key))
    while todo:
        try:
            twins = _decide_group(db, todo)
        except _CommitUnknown as unknown:
            unknowns += 1
            committed = _were_stored(db, unknown.bid_ids)
            if committed is None or (not committed and unknowns >= 3):
                # Cannot tell (or the database keeps failing): ask again with the same key.
                for request in todo:
                    request.answer = _refusal(COMMIT_UNKNOWN)
                break
            if committed:
                break  # the answers stand: they are what was stored
            if unknown.refusal is not None and not is_unavailable(unknown.refusal):
                # The server answered, refusing a write: as when the writes went alone.
                if len(todo) == 1:
                    todo[0].answer, todo[0].error = None, unknown.refusal
                    break
                for request in todo:
                    decide_bids(db, [request])
                break
            continue  # nothing was stored: decide again
        except DBAPIError as refused:
            if len(todo) == 1:
                todo[0].answer, todo[0].error = None, refused
                break
            for request in todo:
                decide_bids(db, [request])
            twins = []
        if not twins:
            break
        replays += twins
        todo = [request for request in todo if request not in twins]
    for request in replays:
        request.answer = idempotency.replay(db, request.bidder_id, request.key,
                                            request.fingerprint)
        if request.answer is None:  # the first answer was not stored (an unknown auction)
            decide_bids(db, [request])


@dataclass(eq=False)
class _Held:
    """An auction locked by a group: its state after the group's decisions so far."""

    state: AuctionState
    row: object
    leader_name: str | None
    changed: bool = False


def _decide_group(db: Database, requests: list[BidRequest]) -> list[BidRequest]:
    """One transaction for ``requests``; returns those whose key a twin stored first (nothing
    is committed then: the caller decides the others again)."""
    # BEGIN travels with the locks, COMMIT with the writes when it can: see below.
    with db.pipelined_unit_of_work() as uow:
        auctions = {r.auction_id for r in requests}
        GROUP_SIZES.labels("bids").observe(len(requests))
        GROUP_SIZES.labels("auctions").observe(len(auctions))
        locked, now, bidders = repository.lock_auctions(
            uow, auctions, {r.bidder_id for r in requests})
        held = {auction: _Held(state, row, row.leader_name)
                for auction, (state, row) in locked.items()}
        bids, lines, keyed = [], [], []
        for request in requests:
            auction = held.get(str(request.auction_id))
            if auction is None:
                # Not stored with its key: the auction may be known in a moment.
                request.answer = _refusal(Problem(422, "auction_not_found", "No such auction."))
                continue
            if request.key:
                keyed.append(request)
            status, name = bidders.get(request.bidder_id, (None, None))
            try:
                check_bidder_standing(status)
                decision = decide_bid(auction.state, request.bidder_id, request.amount, now)
            except BidRejected as rejection:
                request.answer = _refusal(rejection)
                continue
            bid_id, state = uuid.uuid4(), decision.state
            auction.state, auction.changed = state, True
            if state.leader_id == request.bidder_id:
                auction.leader_name = mask_name(name) if name is not None else None
            bids.append(repository.bid_row(
                state.auction_id, bid_id, request.bidder_id, request.amount,
                state.current_price, decision.status if decision.visible else "raised",
                state.seq if decision.visible else None))
            lines += repository.history_lines(state.auction_id, bid_id, state.seq,
                                              decision.entries)
            if decision.visible:
                _publish_bid(uow, decision, bid_id, auction.row.title, auction.row.currency,
                             now, auction.leader_name)
            request.answer = (201, {
                "bid_id": str(bid_id), "auction_id": state.auction_id,
                "status": decision.status, "your_max": request.amount,
                "current_price": state.current_price, "min_next_bid": state.min_next_bid(),
                "currency": auction.row.currency, "reserve_met": state.reserve_met,
                "buy_now_available": state.buy_now_available,
                "ends_at": isoformat(state.ends_at), "seq": state.seq,
            })
        states = [(a.state, a.leader_name, a.row.row_ctid) for a in held.values() if a.changed]
        bid_ids = [uuid.UUID(b["id"]) for b in bids]
        if bids and not keyed:
            # Nobody's stored answer to look at first: the writes and the COMMIT go in one
            # round trip. If that fails, only a read can tell whether it committed.
            try:
                repository.save_bids(uow, states, bids, lines, [], now, commit=True)
            except DBAPIError as exc:
                raise _CommitUnknown(bid_ids, exc) from exc
            return []
        if bids or keyed:
            stored = repository.save_bids(
                uow, states, bids, lines,
                [(r.bidder_id, r.key, r.fingerprint, *r.answer) for r in keyed], now)
            twins = [r for r in keyed if (r.bidder_id, r.key) not in stored]
            if twins:
                uow.rollback()
                return twins
        try:
            uow.commit()
        except DBAPIError as exc:  # did the COMMIT reach the server? Only a read can tell.
            raise _CommitUnknown(bid_ids) from exc
        return []


class _CommitUnknown(Exception):
    """The COMMIT of a group failed on the client's side: it may or may not have happened.
    ``refusal``: the error of a write sent together with the COMMIT, which the server may
    have refused (then nothing was committed, and the group is decided one bid at a time)."""

    def __init__(self, bid_ids: list[uuid.UUID], refusal: DBAPIError | None = None):
        super().__init__("commit outcome unknown")
        self.bid_ids = bid_ids
        self.refusal = refusal


COMMIT_UNKNOWN = Problem(
    503, "commit_unknown", "The bid may or may not have been recorded: send it again with the "
    "same Idempotency-Key to get its answer.", None, {"Retry-After": "1"})


def _were_stored(db: Database, bid_ids: list[uuid.UUID]) -> bool | None:
    """After a failed COMMIT: True if the group's bids were stored (it committed), False if
    not (or it had none: deciding again is harmless), None if the database cannot tell now."""
    if not bid_ids:
        return False
    try:
        with db.unit_of_work() as uow:
            return repository.bids_exist(uow.session, bid_ids)
    except DBAPIError as exc:
        # An unavailable database is an expected moment (a restart, a stop): no traceback.
        log.warning("cannot tell whether a bid group committed",
                    exc_info=not is_unavailable(exc), extra={"error": str(exc.orig)[:200]})
        return None


def _publish_bid(uow: UnitOfWork, decision: BidDecision, bid_id: uuid.UUID, title: str,
                 currency: str, now: datetime, leader_name: str | None) -> None:
    state = decision.state
    uow.publish("bid.placed", {
        "auction_id": state.auction_id, "bid_id": str(bid_id), "seq": state.seq,
        "current_price": state.current_price, "currency": currency,
        "bid_count": state.bid_count, "leader_id": state.leader_id,
        "leader_name": leader_name,
        "min_next_bid": state.min_next_bid(), "reserve_met": state.reserve_met,
        "buy_now_available": state.buy_now_available,
        "ends_at": isoformat(state.ends_at), "placed_at": isoformat(now),
    })
    if decision.extended:
        uow.publish("auction.extended", {
            "auction_id": state.auction_id, "seq": state.seq,
            "ends_at": isoformat(state.ends_at),
        })
    if decision.outbid_user_id:
        uow.publish("bid.outbid", {
            "auction_id": state.auction_id, "seq": state.seq, "user_id": decision.outbid_user_id,
            "title": title, "currency": currency, "current_price": state.current_price,
            "min_next_bid": state.min_next_bid(), "ends_at": isoformat(state.ends_at),
            "buy_now_available": state.buy_now_available,
        })


def buy_now(db: Database, buyer_id: str, auction_id: uuid.UUID,
            idempotency_key: str | None = None) -> Answer:
    """Buy at the Buy-It-Now price under the row lock: the auction ends at once."""

    def decide(uow: UnitOfWork) -> tuple[Answer, bool]:
        locked = repository.lock_auction(uow, auction_id, {buyer_id})
        if locked is None:
            return _refusal(Problem(404, "auction_not_found", "No such auction.")), False
        state, row, now = locked
        status, known_name = (row.bidders or {}).get(buyer_id, (None, None))
        name = mask_name(known_name) if known_name is not None else None
        try:
            check_bidder_standing(status)
            decision = decide_buy_now(state, buyer_id, now)
        except BidRejected as rejection:
            return _refusal(rejection), True
        bid_id = uuid.uuid4()
        purchase = replace(decision.state, seq=decision.state.seq - 1)
        repository.record_bid(
            uow.session,
            [repository.bid_row(state.auction_id, bid_id, buyer_id, decision.price,
                                purchase.current_price, "bought", purchase.seq)],
            repository.history_lines(state.auction_id, bid_id, purchase.seq, decision.entries),
            now)
        # Everyone sees the purchase like any bid (price, count, leader), then the end; a leader
        # it displaces (a reserve was not met yet) is told like any outbid bidder.
        displaced = state.leader_id if state.leader_id != buyer_id else None
        _publish_bid(uow, BidDecision(purchase, "leading", decision.entries,
                                      outbid_user_id=displaced),
                     bid_id, row.title, row.currency, now, name)
        _finish(uow, decision, row, now, new_leader=True, leader_name=name)
        return (201, {
            "bid_id": str(bid_id), "auction_id": state.auction_id, "status": "won",
            "price": decision.price, "currency": row.currency, "seq": decision.state.seq,
        }), True

    return idempotency.run_once(db, buyer_id, idempotency_key,
                                idempotency.fingerprint("buy", auction_id), decide)


def _finish(uow: UnitOfWork, decision: CloseDecision, row, now: datetime,
            new_leader: bool = False, leader_name: str | None = None) -> None:
    """Record an end (close, buy-now or cancel) and announce ``auction.ended`` once."""
    state = decision.state
    repository.mark_closed(uow.session, state, decision.outcome, decision.winner_id, now,
                           new_leader, leader_name)
    uow.publish("auction.ended", {
        "auction_id": state.auction_id, "seq": state.seq, "outcome": decision.outcome,
        "winner_id": decision.winner_id, "price": decision.price, "currency": row.currency,
        "title": row.title, "seller_id": state.seller_id, "ended_at": isoformat(now),
        "bid_count": state.bid_count,
        # Who to tell: every bidder, and who bid highest (also when the reserve was not met).
        "bidder_ids": repository.bidder_ids(uow.session, state.auction_id),
        "high_bidder_id": state.leader_id,
    })


def close_due_auctions(db: Database, limit: int = 100) -> int:
    """Close every auction past its end, each exactly once; returns how many were closed.

    Rows are locked with SKIP LOCKED, so several closers (and bids in flight) never block each
    other; each close is decided with the database's clock read under the lock, in its own
    savepoint so that one failing auction cannot hold back the others."""
    closed = 0
    with db.unit_of_work() as uow:
        for auction_id in repository.lock_due_auctions(uow.session, limit):
            try:
                with uow.session.begin_nested():
                    state, row, now = repository.lock_auction(uow, auction_id)
                    decision = decide_close(state, now)
                    if decision is None:
                        continue
                    _finish(uow, decision, row, now)
                    closed += 1
            except Exception:
                log.exception("could not close auction", extra={"auction_id": str(auction_id)})
        uow.commit()
    return closed


def _lock_listing(uow: UnitOfWork, auction_id: uuid.UUID, seller_id: str, listing: dict,
                  version: int):
    """Lock the auction's row for a seller's change, creating it from the catalog's snapshot
    if bidding has not heard of the listing yet; 403 unless ``seller_id`` listed it."""
    repository.insert_if_unknown(uow.session, listing, version)
    state, row, now = repository.lock_auction(uow, auction_id)
    if state.seller_id != seller_id:
        raise Problem(403, "not_your_auction", "Only the seller may change this listing.")
    return state, row, now


def change_terms(db: Database, auction_id: uuid.UUID, seller_id: str, listing: dict,
                 version: int) -> dict:
    """The catalog asks, before saving a seller's edit: may the terms change, and if so they
    are in force from now on. Decided under the row lock, so that either the edit comes first
    (every later bid is decided on the new terms) or a bid does (409 ``listing_locked``). The
    answer says whether Buy It Now is offered under the new terms (the catalog shows it)."""
    with db.unit_of_work() as uow:
        state, row, now = _lock_listing(uow, auction_id, seller_id, listing, version)
        check_seller_may_change(state, row.outcome, now)
        repository.set_terms(uow.session, auction_id, listing, version)
        terms, _, _ = repository.read_auction(uow.session, auction_id)
        uow.commit()
    return {"auction_id": str(auction_id), "terms_version": version, "seq": state.seq,
            "buy_now_available": terms.buy_now_available}


def withdraw_listing(db: Database, auction_id: uuid.UUID, seller_id: str, listing: dict,
                     version: int) -> dict:
    """The catalog asks, before cancelling: may the seller withdraw the listing? If nobody
    has bid, bidding closes it at once (``auction.ended`` cancelled) and no bid is accepted
    after; if a bid came first, 409 ``listing_locked``. Asking again answers the same."""
    with db.unit_of_work() as uow:
        state, row, now = _lock_listing(uow, auction_id, seller_id, listing, version)
        if row.outcome != "cancelled":
            check_seller_may_change(state, row.outcome, now)
            _finish(uow, decide_cancel(state), row, now)
        repository.set_terms_version(uow.session, auction_id, version)
        uow.commit()
    return {"auction_id": str(auction_id), "terms_version": version, "outcome": "cancelled"}


def apply_listing(session, listing: dict, version: int) -> None:
    """A catalog event's snapshot of the listing, applied if newer than what the row holds
    and nobody has bid (see :func:`repository.upsert_listing`)."""
    repository.upsert_listing(session, listing, version)


def withdraw_as_told(uow: UnitOfWork, auction_id: uuid.UUID, seller_id: str, at: datetime,
                     version: int) -> None:
    """``auction.cancelled`` as an event: close the row if it is still open (the catalog's call
    has normally done so already), or leave a closed tombstone for a listing not known yet."""
    if repository.insert_withdrawn(uow.session, auction_id, seller_id, at, version):
        return
    state, row, now = repository.lock_auction(uow, auction_id)
    repository.set_terms_version(uow.session, auction_id, version)
    if state.bid_count > 0:  # bidding never agreed to this: a bid came first
        log.warning("cancellation not applied: the auction has bids",
                    extra={"auction_id": str(auction_id)})
        return
    decision = decide_cancel(state)
    if decision is not None:
        _finish(uow, decision, row, now)


def public_state(state: AuctionState, row, now: datetime, viewer_id: str | None = None) -> dict:
    """The live state as everyone may see it: never the reserve amount or a maximum, and
    bidders only by their masked name. ``viewer_id`` (the signed-in caller) also learns
    whether they lead (``you_lead``, and their own id as ``leader_id``) or won (``you_won``,
    ``winner_id``); the seller learns the winner."""
    winner = str(row.winner_id) if row.winner_id else None
    leads = viewer_id is not None and state.leader_id == viewer_id
    sees_winner = viewer_id is not None and viewer_id in (winner, state.seller_id)
    answer = {
        "auction_id": state.auction_id,
        "status": state.status(now),
        "current_price": state.current_price,
        "currency": row.currency,
        "bid_count": state.bid_count,
        "leader_id": state.leader_id if leads else None,
        "leader_name": row.leader_name,
        "min_next_bid": state.min_next_bid(),
        "has_reserve": state.reserve_price is not None,
        "reserve_met": state.reserve_met,
        "buy_now_price": state.buy_now_price if state.buy_now_offered(now) else None,
        "buy_now_available": state.buy_now_offered(now),
        "starts_at": isoformat(state.starts_at),
        "ends_at": isoformat(state.ends_at),
        "seq": state.seq,
        "outcome": row.outcome,
        "winner_id": winner if sees_winner else None,
        "server_time": isoformat(now),
    }
    if viewer_id is not None:
        answer["you_lead"] = leads
        answer["you_won"] = winner is not None and winner == viewer_id
    return answer


def auction_state(db: Database, auction_id: uuid.UUID, viewer_id: str | None = None) -> dict:
    """The public live state of an auction (with what concerns ``viewer_id``, the signed-in
    caller); 404 ``auction_not_found``."""
    with db.unit_of_work() as uow:
        found = repository.read_auction(uow.session, auction_id)
    if found is None:
        raise Problem(404, "auction_not_found", "No such auction.")
    return public_state(*found, viewer_id=viewer_id)


def bid_history(db: Database, auction_id: uuid.UUID, after_seq: int, limit: int,
                viewer_id: str | None = None) -> dict:
    """Public history lines after ``after_seq`` (what a client fetches after a gap); for a
    signed-in viewer each line also says whether it is theirs (``yours``)."""
    with db.unit_of_work() as uow:
        found = repository.read_auction(uow.session, auction_id)
        if found is None:
            raise Problem(404, "auction_not_found", "No such auction.")
        rows = repository.history(uow.session, auction_id, after_seq, limit + 1)
    page, next_cursor = rows[:limit], None
    if len(rows) > limit:
        # Never split one decision's lines across pages: the cursor is a whole seq.
        whole = [r for r in page if r.seq != rows[limit].seq]
        page = whole or page
        next_cursor = str(page[-1].seq)
    items = [{
        "bid_id": str(r.bid_id), "seq": r.seq, "line": r.position,
        "bidder": mask_name(r.display_name),
        "current_price": r.current_price, "placed_at": isoformat(r.placed_at), "auto": r.auto,
        **({"yours": str(r.bidder_id) == viewer_id} if viewer_id else {}),
    } for r in page]
    return {"auction_id": str(auction_id), "items": items, "next_cursor": next_cursor,
            "seq": found[0].seq}


def my_bids(db: Database, user_id: str, limit: int, before: datetime | None,
            auction_id: uuid.UUID | None = None) -> dict:
    """Each auction a user bid on (or only ``auction_id``): leading / outbid / won / lost,
    with their maximum."""
    with db.unit_of_work() as uow:
        rows = repository.my_auctions(uow.session, user_id, limit + 1, before, auction_id)
    items = []
    for r in rows[:limit]:
        if r.closed:
            status = "won" if r.winner_id and str(r.winner_id) == user_id else "lost"
        else:
            status = "leading" if r.leader_id and str(r.leader_id) == user_id else "outbid"
        items.append({"auction_id": str(r.id), "title": r.title, "status": status,
                      "your_max": r.my_max, "current_price": r.current_price,
                      "currency": r.currency, "ends_at": isoformat(r.ends_at),
                      "outcome": r.outcome, "last_bid_at": isoformat(r.last_bid_at)})
    next_cursor = items[-1]["last_bid_at"] if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
