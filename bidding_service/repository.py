"""All SQL of bidding_service. The hot path takes the row lock and reads the database's clock
in one statement, and writes in as few statements as it can: lock hold time is the ceiling of
a hot auction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auction_common.db import UnitOfWork

from .domain import DEFAULT_INCREMENTS, AuctionState, Entry
from .models import LiveAuction

_STATE_COLUMNS = """id, seller_id, starting_price, reserve_price, buy_now_price, increments,
    anti_sniping_seconds, starts_at, ends_at, closed, current_price, bid_count, leader_id,
    leader_max, leader_name, seq, title, currency, outcome, winner_id"""


def state_of(row) -> AuctionState:
    """The domain's view of an auctions row."""
    return AuctionState(
        auction_id=str(row.id), seller_id=str(row.seller_id), starting_price=row.starting_price,
        reserve_price=row.reserve_price, buy_now_price=row.buy_now_price,
        increments=tuple(tuple(band) for band in row.increments) if row.increments
        else DEFAULT_INCREMENTS,
        anti_sniping_seconds=row.anti_sniping_seconds, starts_at=row.starts_at,
        ends_at=row.ends_at, closed=row.closed, current_price=row.current_price,
        bid_count=row.bid_count, leader_id=str(row.leader_id) if row.leader_id else None,
        leader_max=row.leader_max, seq=row.seq,
    )


_BIDDERS = """(SELECT jsonb_object_agg(b.user_id, jsonb_build_array(b.status, b.display_name))
                FROM bidding.bidders b WHERE b.user_id = ANY(CAST(:bidders AS uuid[])))"""
#: The lock of a lone bid's (or one auction's group's) row: the plainest plan there is.
_LOCK_ONE = f"""WITH locked AS MATERIALIZED (
        SELECT ctid AS row_ctid, {_STATE_COLUMNS} FROM bidding.auctions WHERE id = :id
        FOR UPDATE)
    SELECT locked.*, clock_timestamp() AS db_now, {_BIDDERS} AS bidders FROM locked"""
#: The locks of several auctions' rows, one by one in the order of the ids given.
_LOCK_SEVERAL = f"""WITH locked AS MATERIALIZED (
        SELECT a.* FROM unnest(CAST(:ids AS uuid[])) AS wanted(id)
        CROSS JOIN LATERAL (
            SELECT ctid AS row_ctid, {_STATE_COLUMNS} FROM bidding.auctions
            WHERE id = wanted.id FOR UPDATE) AS a)
    SELECT locked.*, clock_timestamp() AS db_now, {_BIDDERS} AS bidders FROM locked"""


def lock_auctions(uow: UnitOfWork, auction_ids: Collection[uuid.UUID],
                  bidder_ids: Collection[str] = ()) -> tuple[dict[str, tuple], datetime | None,
                                                             dict[str, list]]:
    """Lock the auctions' rows (each its auction's serialization point) one by one in the
    order of their ids, each found through the primary key whatever the planner guesses of
    the list's length (the lateral join), and read the database's clock AFTER every lock is
    granted (the materialized CTE finishes locking before the outer SELECT projects). Every
    group locks in that one order, so two groups sharing auctions wait for each other without
    deadlocking. Each row comes with its ``row_ctid``, where :func:`save_bids` finds it again
    (a row this transaction has locked stays where it is until it writes it).

    Returns ({auction id: (state, row)} for the auctions that exist, the clock (None when none
    does), {bidder id: [status, display_name]} for the known ``bidder_ids``), in one round
    trip."""
    ids = sorted({uuid.UUID(str(a)) for a in auction_ids})  # as PostgreSQL orders uuids
    rows = uow.run_prepared([_LOCK_ONE if len(ids) == 1 else _LOCK_SEVERAL], {
        "ids": [str(a) for a in ids], "id": ids[0], "bidders": list(bidder_ids)})
    if not rows:
        return {}, None, {}
    return ({str(row.id): (state_of(row), row) for row in rows}, rows[0].db_now,
            rows[0].bidders or {})


def lock_auction(uow: UnitOfWork, auction_id: uuid.UUID, bidder_ids: Collection[str] = ()):
    """:func:`lock_auctions` for one auction: (state, row, now) or None; ``row.bidders`` maps
    each known bidder to ``[status, display_name]``."""
    locked, now, _ = lock_auctions(uow, [auction_id], bidder_ids)
    if not locked:
        return None
    [(state, row)] = locked.values()
    return state, row, now


def read_auction(session: Session, auction_id: uuid.UUID):
    """(state, row, now) without locking, for reads; None when unknown."""
    row = session.execute(
        text(f"SELECT {_STATE_COLUMNS}, clock_timestamp() AS db_now FROM bidding.auctions "
             "WHERE id = :id"),
        {"id": auction_id},
    ).first()
    return (state_of(row), row, row.db_now) if row is not None else None


#: One auction's new state (a lone bid's, or a group's on one auction).
_SAVE_STATE = """UPDATE bidding.auctions SET current_price = :price, bid_count = :count,
    leader_id = :leader, leader_max = :leader_max, leader_name = :leader_name, seq = :seq,
    ends_at = :ends_at, closed = :closed WHERE id = :auction"""


def _state_params(state: AuctionState) -> dict:
    return {"price": state.current_price, "count": state.bid_count, "leader": state.leader_id,
            "leader_max": state.leader_max, "seq": state.seq, "ends_at": state.ends_at,
            "closed": state.closed, "auction": state.auction_id}


# Several auctions' new states, each on the row the group locked (found by its ctid: a TID
# scan whatever the planner guesses of the recordset's length; the id is checked too).
_SAVE_STATES = """UPDATE bidding.auctions a SET current_price = s.price, bid_count = s.count,
        leader_id = s.leader, leader_max = s.leader_max, leader_name = s.leader_name,
        seq = s.seq, ends_at = s.ends_at, closed = s.closed
    FROM jsonb_to_recordset(CAST(:states AS jsonb)) AS s(auction uuid, price bigint,
         count int, leader uuid, leader_max bigint, leader_name text, seq bigint,
         ends_at timestamptz, closed boolean)
    WHERE a.ctid = ANY(CAST(:state_rows AS tid[])) AND a.id = s.auction"""


def _state_row(state: AuctionState, leader_name: str | None) -> dict:
    return {"auction": state.auction_id, "price": state.current_price,
            "count": state.bid_count, "leader": state.leader_id,
            "leader_max": state.leader_max, "leader_name": leader_name, "seq": state.seq,
            "ends_at": state.ends_at.isoformat(), "closed": state.closed}


# Numbers (bids.number) are drawn in decision order: the ORDER BY of the ordinality.
_BIDS = """bids AS (
        INSERT INTO bidding.bids
            (id, auction_id, bidder_id, max_amount, price_after, status, seq, placed_at)
        SELECT b.id, b.auction, b.bidder, b.amount, b.price, b.status, b.seq, :now
        FROM ROWS FROM (jsonb_to_recordset(CAST(:bids AS jsonb)) AS (id uuid, auction uuid,
                        bidder uuid, amount bigint, price bigint, status text, seq bigint))
             WITH ORDINALITY AS b(id, auction, bidder, amount, price, status, seq, n)
        ORDER BY b.n)"""
_HISTORY = """INSERT INTO bidding.bid_history
        (auction_id, seq, position, bid_id, bidder_id, current_price, auto, placed_at)
    SELECT e.auction, e.seq, e.p, e.bid, e.bidder, e.price, e.auto, :now
    FROM jsonb_to_recordset(CAST(:history AS jsonb))
         AS e(auction uuid, seq bigint, p int, bid uuid, bidder uuid, price bigint,
              auto boolean)"""
_BIDS_AND_HISTORY_CTES = f"{_BIDS},\n    history AS ({_HISTORY})"


def bid_row(auction_id: str, bid_id: uuid.UUID, bidder_id: str, amount: int, price_after: int,
            status: str, seq: int | None) -> dict:
    """A submitted bid, as :func:`save_bids` takes it (``seq`` None for a secret raise)."""
    return {"id": str(bid_id), "auction": auction_id, "bidder": bidder_id, "amount": amount,
            "price": price_after, "status": status, "seq": seq}


def history_lines(auction_id: str, bid_id: uuid.UUID, seq: int,
                  entries: tuple[Entry, ...]) -> list[dict]:
    """The public history lines a decision adds, as :func:`save_bids` takes them."""
    return [{"auction": auction_id, "seq": seq, "p": i, "bid": str(bid_id),
             "bidder": e.bidder_id, "price": e.current_price, "auto": e.auto}
            for i, e in enumerate(entries)]


def save_bids(uow: UnitOfWork, states: list[tuple[AuctionState, str | None, str]],
              bids: list[dict], lines: list[dict], answers: list[tuple], now: datetime,
              commit: bool = False) -> set[tuple[str, str]]:
    """Write the new states of the auctions a group changed (``(state, leader_name,
    row_ctid)``, each row as :func:`lock_auctions` locked it), the
    submitted bids, their public history lines, the answers to remember for their
    Idempotency-Keys ``(user_id, key, fingerprint, status, body)`` and the pending events in
    ONE round trip: every round trip under the row locks is time the auctions wait. Returns
    the (user_id, key) pairs stored (a twin may have stored first).

    With ``commit`` (only without answers to store: nobody then needs to look at what was
    stored before committing), the COMMIT goes in the same round trip, and nothing is
    returned; if it raises, the commit may or may not have happened."""
    parts, params = [], {"now": now}
    if bids and len(states) == 1:
        [(state, leader_name, _)] = states
        parts += [f"state AS ({_SAVE_STATE})", _BIDS_AND_HISTORY_CTES]
        params.update(_state_params(state), leader_name=leader_name, bids=json.dumps(bids),
                      history=json.dumps(lines))
    elif bids:
        parts += [f"state AS ({_SAVE_STATES})", _BIDS_AND_HISTORY_CTES]
        params.update(states=json.dumps([_state_row(state, name) for state, name, _ in states]),
                      state_rows=[row_ctid for _, _, row_ctid in states],
                      bids=json.dumps(bids), history=json.dumps(lines))
    parts.append("""stored AS (
        INSERT INTO bidding.idempotency_keys (user_id, key, fingerprint, status_code, body)
        SELECT a.user_id, a.key, a.fingerprint, a.status, a.body
        FROM jsonb_to_recordset(CAST(:answers AS jsonb))
             AS a(user_id uuid, key text, fingerprint text, status int, body jsonb)
        ON CONFLICT DO NOTHING RETURNING user_id, key)""")
    # In one order in every group: two groups storing the same two keys wait for each other
    # without deadlocking.
    params["answers"] = json.dumps([
        {"user_id": user, "key": key, "fingerprint": fingerprint, "status": status, "body": body}
        for user, key, fingerprint, status, body in sorted(answers, key=lambda a: a[:2])])
    statement = "WITH " + ",\n".join(parts) + "\nSELECT user_id, key FROM stored"
    if commit:
        assert not answers, "stored answers must be looked at before committing"
        uow.write_events_and_commit_with(statement, params)
        return set()
    rows = uow.write_events_with(statement, params)
    return {(str(user), key) for user, key in rows}


def record_bid(session: Session, bids: list[dict], lines: list[dict], now: datetime) -> None:
    """Store bids and their history lines without touching the auction row (buy-now, whose
    close writes the row itself)."""
    session.execute(text(f"WITH {_BIDS} {_HISTORY}"),
                    {"now": now, "bids": json.dumps(bids), "history": json.dumps(lines)})


def mark_closed(session: Session, state: AuctionState, outcome: str, winner_id: str | None,
                now: datetime, new_leader: bool = False, leader_name: str | None = None) -> None:
    """Record the close on the locked row; when a purchase ended it (``new_leader``), the
    buyer's masked name (None while bidding does not know the buyer's name yet: never the
    previous leader's)."""
    session.execute(
        text("""UPDATE bidding.auctions SET closed = true, outcome = :outcome,
                winner_id = :winner, seq = :seq, closed_at = :now, current_price = :price,
                leader_id = :leader, leader_max = :leader_max, bid_count = :count,
                leader_name = CASE WHEN :new_leader THEN :leader_name ELSE leader_name END
                WHERE id = :id"""),
        {"outcome": outcome, "winner": winner_id, "seq": state.seq, "now": now,
         "price": state.current_price, "leader": state.leader_id,
         "leader_max": state.leader_max, "count": state.bid_count, "id": state.auction_id,
         "new_leader": new_leader, "leader_name": leader_name},
    )


def bidder_ids(session: Session, auction_id: str) -> list[str]:
    """Everyone who bid on an auction, each once (read when it closes, never per bid)."""
    return [str(user) for user in session.execute(
        text("""SELECT DISTINCT bidder_id FROM bidding.bids WHERE auction_id = :id
                ORDER BY bidder_id"""),
        {"id": auction_id},
    ).scalars()]


def lock_due_auctions(session: Session, limit: int) -> list[uuid.UUID]:
    """Ids of auctions past their end, locked; rows another closer holds are skipped."""
    return list(session.execute(
        text("""SELECT id FROM bidding.auctions
                WHERE NOT closed AND ends_at <= clock_timestamp()
                ORDER BY ends_at LIMIT :limit FOR UPDATE SKIP LOCKED"""),
        {"limit": limit},
    ).scalars())


def history(session: Session, auction_id: uuid.UUID, after_seq: int, limit: int):
    """Public history lines after ``after_seq``, oldest first, with display names."""
    return session.execute(
        text("""SELECT h.bid_id, h.seq, h.position, h.current_price, h.auto, h.placed_at,
                       b.display_name, h.bidder_id
                FROM bidding.bid_history h
                LEFT JOIN bidding.bidders b ON b.user_id = h.bidder_id
                WHERE h.auction_id = :id AND h.seq > :after
                ORDER BY h.seq, h.position LIMIT :limit"""),
        {"id": auction_id, "after": after_seq, "limit": limit},
    ).all()


def my_auctions(session: Session, user_id: str, limit: int, before: datetime | None,
                auction_id: uuid.UUID | None = None):
    """Each auction a user bid on (or only ``auction_id``): their maximum and the auction's
    state, newest bid first."""
    return session.execute(
        text("""SELECT a.id, a.title, a.currency, a.current_price, a.ends_at, a.closed,
                       a.leader_id, a.winner_id, a.outcome, mine.my_max, mine.last_bid_at
                FROM (SELECT auction_id, max(max_amount) AS my_max, max(placed_at) AS last_bid_at
                      FROM bidding.bids WHERE bidder_id = :user
                        AND (CAST(:auction AS uuid) IS NULL OR auction_id = :auction)
                      GROUP BY auction_id) mine
                JOIN bidding.auctions a ON a.id = mine.auction_id
                WHERE CAST(:before AS timestamptz) IS NULL OR mine.last_bid_at < :before
                ORDER BY mine.last_bid_at DESC LIMIT :limit"""),
        {"user": user_id, "limit": limit, "before": before, "auction": auction_id},
    ).all()


def listing_terms(data: dict) -> dict:
    """The columns a catalog snapshot (``auction.created``/``auction.updated`` data, or the
    catalog's call) sets on the auction's row."""
    increments = data.get("increments")
    return {
        "title": data["title"],
        "starting_price": data["starting_price"],
        "current_price": data["starting_price"],
        "reserve_price": data.get("reserve_price"),
        "buy_now_price": data.get("buy_now_price"),
        "increments": [[band["from"], band["increment"]] for band in increments]
        if increments else None,
        "anti_sniping_seconds": data.get("anti_sniping_seconds", 0),
        "starts_at": datetime.fromisoformat(data["starts_at"]),
        "ends_at": datetime.fromisoformat(data["ends_at"]),
    }


def upsert_listing(session: Session, data: dict, version: int) -> None:
    """Create the auction's row from a catalog snapshot, or give it the snapshot's terms when
    the snapshot is a newer version and nobody has bid yet and it is open. A snapshot without
    seller and currency (recorded before they were carried) only updates."""
    table = LiveAuction.__table__
    terms = listing_terms(data) | {"terms_version": version}
    newer_and_untouched = and_(table.c.terms_version < version, table.c.bid_count == 0,
                               table.c.leader_id.is_(None), table.c.closed.is_(False))
    if "seller_id" not in data or "currency" not in data:
        session.execute(update(table).where(table.c.id == uuid.UUID(data["auction_id"]),
                                            newer_and_untouched).values(**terms))
        return
    statement = insert(table).values(id=uuid.UUID(data["auction_id"]),
                                     seller_id=uuid.UUID(data["seller_id"]),
                                     currency=data["currency"], **terms)
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.id], set_={k: statement.excluded[k] for k in terms},
        where=newer_and_untouched))


def insert_if_unknown(session: Session, data: dict, version: int) -> None:
    """Create the auction's row from the catalog's snapshot if bidding has not heard of it
    yet (its ``auction.created`` still on the way); an existing row is left as it is."""
    session.execute(insert(LiveAuction.__table__).values(
        id=uuid.UUID(data["auction_id"]), seller_id=uuid.UUID(data["seller_id"]),
        currency=data["currency"], terms_version=version, **listing_terms(data),
    ).on_conflict_do_nothing())


def set_terms(session: Session, auction_id: uuid.UUID, data: dict, version: int) -> None:
    """Give the (locked) row the seller's new terms and remember their version."""
    table = LiveAuction.__table__
    session.execute(update(table).where(table.c.id == auction_id).values(
        terms_version=func.greatest(table.c.terms_version, version), **listing_terms(data)))


def insert_withdrawn(session: Session, auction_id: uuid.UUID, seller_id: str, at: datetime,
                     version: int) -> bool:
    """A closed, cancelled row for a listing withdrawn before bidding heard of it (a
    tombstone: a late ``auction.created`` cannot open it). False if the row exists."""
    return bool(session.execute(insert(LiveAuction.__table__).values(
        id=auction_id, seller_id=uuid.UUID(seller_id), title="", currency="XXX",
        starting_price=0, current_price=0, starts_at=at, ends_at=at, closed=True,
        outcome="cancelled", closed_at=at, terms_version=version,
    ).on_conflict_do_nothing()).rowcount)


def set_terms_version(session: Session, auction_id: uuid.UUID, version: int) -> None:
    """Remember the newest version of the listing that bidding has acted on."""
    table = LiveAuction.__table__
    session.execute(update(table).where(table.c.id == auction_id).values(
        terms_version=func.greatest(table.c.terms_version, version)))


def bids_exist(session: Session, bid_ids: list[uuid.UUID]) -> bool:
    """Whether the first of ``bid_ids`` (bids written in one transaction) is stored."""
    return session.execute(text("SELECT EXISTS (SELECT 1 FROM bidding.bids WHERE id = :id)"),
                           {"id": bid_ids[0]}).scalar()
