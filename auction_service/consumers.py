"""Keeps the catalog's read model (price, bid count, end, outcome) in step with bidding."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import func, update

from auction_common.consumer import IdempotentConsumer, applies_in_batches
from auction_common.db import Database, UnitOfWork, sql_text

from .models import Auction

_auctions = Auction.__table__


def _newer(event_data: dict):
    """Only apply an event newer than what the read model already shows (stale ones lose).
    A Core statement: it runs for every bid, and needs nothing of the ORM."""
    return update(_auctions).where(
        _auctions.c.id == uuid.UUID(event_data["auction_id"]),
        _auctions.c.last_seq < event_data["seq"],
    )


#: The newest bid of each auction in a batch, applied in ONE statement: the read model's
#: figures from each ``bid.placed`` (an optional field absent from an older event's version
#: leaves the column as it is), only where the event is newer than what the row shows.
_RECORD_BIDS = """
UPDATE "{schema}".auctions AS a SET
    current_price = CAST(e->>'current_price' AS bigint),
    bid_count = CAST(e->>'bid_count' AS integer),
    leader_id = CAST(e->>'leader_id' AS uuid),
    ends_at = CAST(e->>'ends_at' AS timestamptz),
    last_seq = CAST(e->>'seq' AS bigint),
    reserve_met = CASE WHEN e ? 'reserve_met' THEN CAST(e->>'reserve_met' AS boolean)
                       ELSE a.reserve_met END,
    leader_name = CASE WHEN e ? 'leader_name' THEN e->>'leader_name' ELSE a.leader_name END,
    buy_now_available = CASE WHEN e ? 'buy_now_available'
                             THEN CAST(e->>'buy_now_available' AS boolean)
                             ELSE a.buy_now_available END
FROM jsonb_array_elements(CAST(:bids AS jsonb)) AS bids(e)
WHERE a.id = CAST(e->>'auction_id' AS uuid) AND a.last_seq < CAST(e->>'seq' AS bigint)"""


@applies_in_batches
def record_bids(uow: UnitOfWork, events: list[dict]) -> None:
    """``bid.placed``: the new price, bid count, leader, end, whether the reserve is met
    (public knowledge; the amount is not) and whether Buy It Now is still offered (bidding's
    decision, shown as it is). Bids spread over many auctions arrive together: the newest of
    each auction is applied, all in one statement instead of one per event."""
    newest: dict[str, dict] = {}
    for event in events:
        data = event["data"]
        known = newest.get(data["auction_id"])
        if known is None or known["seq"] < data["seq"]:
            newest[data["auction_id"]] = data
    uow.session.execute(sql_text(_RECORD_BIDS.format(schema=uow.db.schema)),
                        {"bids": json.dumps(list(newest.values()))})


def record_extension(uow: UnitOfWork, event: dict) -> None:
    """``auction.extended``: the new end. It shares its ``seq`` with the ``bid.placed`` of the
    same decision (which carries the same end), so it does not take that ``seq``: the bid,
    arriving after it, must still be applied. An extension only ever moves the end later, so
    of several the latest end wins, in whatever order they come."""
    data = event["data"]
    uow.session.execute(update(_auctions).where(
        _auctions.c.id == uuid.UUID(data["auction_id"]),
        _auctions.c.last_seq <= data["seq"],
    ).values(ends_at=func.greatest(_auctions.c.ends_at,
                                   datetime.fromisoformat(data["ends_at"]))))


def record_end(uow: UnitOfWork, event: dict) -> None:
    """``auction.ended``: outcome (``sold`` by bids or Buy-It-Now, ``unsold_no_bids``,
    ``unsold_reserve_not_met``, ``cancelled``), winner, final price and bid count. It comes
    last in the auction's ``seq`` and carries the final figures, so a ``bid.placed`` that
    arrives after it has nothing to add. A cancellation bidding made marks the listing
    cancelled too (had the catalog's own save failed after bidding closed it)."""
    data = event["data"]
    winner = data["winner_id"]
    values = dict(
        outcome=data["outcome"], reserve_met=data["outcome"] == "sold",
        winner_id=uuid.UUID(winner) if winner else None,
        current_price=data["price"] if data["price"] is not None else _auctions.c.current_price,
        ended_at=datetime.fromisoformat(data["ended_at"]), last_seq=data["seq"],
    )
    if "bid_count" in data:
        values["bid_count"] = data["bid_count"]
    if data["outcome"] == "cancelled":
        values["cancelled_at"] = func.coalesce(_auctions.c.cancelled_at,
                                               datetime.fromisoformat(data["ended_at"]))
    uow.session.execute(_newer(data).values(**values))


def read_model_consumer(db: Database) -> IdempotentConsumer:
    """The consumer feeding the read model from bidding_service's events."""
    return IdempotentConsumer(db, "auction_service.read_model", {
        "bid.placed": record_bids,
        "auction.extended": record_extension,
        "auction.ended": record_end,
    }, snapshots={"bid.placed": lambda event: event["data"]["auction_id"]})
