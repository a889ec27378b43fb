"""The bid rules: pure functions over plain data, the same on every path.

Money is an integer of minor units. The state of an auction keeps what a decision needs (leader,
leader's maximum) so that deciding never reads the bids table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from auction_common.problems import Problem

#: eBay's US price bands, in minor units: (price at or above, increment).
DEFAULT_INCREMENTS: tuple[tuple[int, int], ...] = (
    (0, 5),
    (100, 25),
    (500, 50),
    (2_500, 100),
    (10_000, 250),
    (25_000, 500),
    (50_000, 1_000),
    (100_000, 2_500),
    (250_000, 5_000),
    (500_000, 10_000),
)


def increment_for(price: int, table: tuple[tuple[int, int], ...] = DEFAULT_INCREMENTS) -> int:
    """The bid increment of the band that ``price`` falls in."""
    step = table[0][1]
    for floor, increment in table:
        if price >= floor:
            step = increment
        else:
            break
    return step


@dataclass(frozen=True)
class AuctionState:
    """The live state of one auction: everything a bid or the close decides on."""

    auction_id: str
    seller_id: str
    starting_price: int
    starts_at: datetime
    ends_at: datetime
    closed: bool = False
    current_price: int = 0
    bid_count: int = 0
    leader_id: str | None = None
    leader_max: int | None = None
    seq: int = 0

    def is_live(self, now: datetime) -> bool:
        """Open for bids at ``now``."""
        return not self.closed and self.starts_at <= now < self.ends_at

    def status(self, now: datetime) -> str:
        """``scheduled``, ``live`` or ``ended``."""
        if self.closed or now >= self.ends_at:
            return "ended"
        return "scheduled" if now < self.starts_at else "live"

    def min_next_bid(self) -> int:
        """The least amount a new bidder may bid now."""
        if self.leader_id is None:
            return self.starting_price
        return self.current_price + increment_for(self.current_price)


class BidRejected(Problem):
    """A bid that breaks a rule; ``code`` says which."""


@dataclass(frozen=True)
class BidDecision:
    """What accepting a bid does: the new state, the bidder's status, who lost the lead."""

    state: AuctionState
    status: str  # "leading" or "outbid"
    #: True when the bid changed something public (price, count, leader): a bid.placed event.
    visible: bool
    outbid_user_id: str | None = None


def decide_bid(state: AuctionState, bidder_id: str, amount: int, now: datetime) -> BidDecision:
    """Apply a bid of maximum ``amount`` by ``bidder_id`` at ``now`` (proxy bidding).

    The visible price is the lowest that makes the highest maximum win: the second-highest
    maximum plus one increment, capped at the highest maximum; at equal maximums the earlier
    bid wins. A leader raising their own maximum changes nothing visible.
    """
    if not state.is_live(now):
        raise BidRejected(409, "auction_not_live", "The auction is not open for bids.",
                          {"status": state.status(now)})
    if bidder_id == state.seller_id:
        raise BidRejected(422, "own_auction", "You cannot bid on your own auction.")
    minimum = state.min_next_bid()
    if state.leader_id is None:
        if amount < minimum:
            raise _too_low(minimum)
        new = replace(state, current_price=state.starting_price, bid_count=1,
                      leader_id=bidder_id, leader_max=amount, seq=state.seq + 1)
        return BidDecision(new, "leading", visible=True)

    assert state.leader_max is not None
    if bidder_id == state.leader_id:
        if amount <= state.leader_max:
            raise BidRejected(422, "too_low", "Raise your maximum above your current one.",
                              {"min_next_bid": state.leader_max + 1})
        return BidDecision(replace(state, leader_max=amount), "leading", visible=False)

    if amount < minimum:
        raise _too_low(minimum)
    if amount > state.leader_max:
        price = min(amount, state.leader_max + increment_for(state.leader_max))
        new = replace(state, current_price=price, bid_count=state.bid_count + 1,
                      leader_id=bidder_id, leader_max=amount, seq=state.seq + 1)
        return BidDecision(new, "leading", visible=True, outbid_user_id=state.leader_id)
    # The leader's maximum covers this bid: the leader keeps the lead at a higher price.
    price = min(state.leader_max, amount + increment_for(amount))
    new = replace(state, current_price=price, bid_count=state.bid_count + 1, seq=state.seq + 1)
    return BidDecision(new, "outbid", visible=True)


def _too_low(minimum: int) -> BidRejected:
    return BidRejected(422, "too_low", f"The bid must be at least {minimum}.",
                       {"min_next_bid": minimum})


@dataclass(frozen=True)
class CloseDecision:
    """How an auction ended."""

    state: AuctionState
    outcome: str  # "sold" | "unsold_no_bids"
    winner_id: str | None
    price: int | None


def decide_close(state: AuctionState, now: datetime) -> CloseDecision | None:
    """Close the auction if it is due at ``now``; None if it is not (or already closed)."""
    if state.closed or now < state.ends_at:
        return None
    new = replace(state, closed=True, seq=state.seq + 1)
    if state.leader_id is None:
        return CloseDecision(new, "unsold_no_bids", None, None)
    return CloseDecision(new, "sold", state.leader_id, state.current_price)
