"""Running bidding's closer in a test, scoped to the test's own auctions.

The closer is a global job: it closes every auction past its end in the run's shared database,
other tests' included. What it returns (how many it closed) therefore says nothing about one
test's auction; a test waits on its own auction's news instead."""

from __future__ import annotations

from collections.abc import Callable

from auction_common.db import Database
from bidding_service.handlers import close_due_auctions
from tests.support.outbox import outbox_events
from tests.support.waiting import wait_for


def close_until(db: Database, done: Callable[[], object], timeout: float = 10.0,
                message: str = "the closer to end the auction"):
    """Run the closer (again and again) until ``done()`` holds; returns what it returned."""

    def closed_and_done():
        close_due_auctions(db)
        return done()

    return wait_for(closed_and_done, timeout=timeout, message=message)


def close_auction(db: Database, auction_id: str, timeout: float = 10.0) -> dict:
    """Run the closer until this auction has ended; its one ``auction.ended`` event."""
    close_until(db, lambda: outbox_events(db, auction_id, "auction.ended"), timeout)
    [ended] = outbox_events(db, auction_id, "auction.ended")
    return ended
