"""The bid rules: pure functions over plain data, the same on every path.

Money is an integer of minor units. The state of an auction keeps everything a decision needs
(leader, leader's maximum, the pricing rules), so deciding never reads the bids table.
Every decision that changes the public state takes the next ``seq``; the events it causes
carry that number.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from auction_common.problems import Problem

Increments = tuple[tuple[int, int], ...]

#: eBay's US price bands, in minor units: (price at or above, increment).
DEFAULT_INCREMENTS: Increments = (
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


def increment_for(price: int, table: Increments = DEFAULT_INCREMENTS) -> int:
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
    """The live state of one auction and its pricing rules."""

    auction_id: str
    seller_id: str
    starting_price: int
    starts_at: datetime
    ends_at: datetime
    reserve_price: int | None = None
    buy_now_price: int | None = None
    increments: Increments = DEFAULT_INCREMENTS
    anti_sniping_seconds: int = 0
    closed: bool = False
    current_price: int = 0
    bid_count: int = 0
    leader_id: str | None = None
    leader_max: int | None = None
    seq: int = 0

    def __post_init__(self) -> None:
        if self.current_price == 0:
            object.__setattr__(self, "current_price", self.starting_price)

    def is_live(self, now: datetime) -> bool:
        """Open for bids at ``now``."""
        return not self.closed and self.starts_at <= now < self.ends_at

    def status(self, now: datetime) -> str:
        """``scheduled``, ``live`` or ``ended``."""
        if self.closed or now >= self.ends_at:
            return "ended"
        return "scheduled" if now < self.starts_at else "live"

    @property
    def reserve_met(self) -> bool:
        """True when there is no reserve, or the leading maximum reaches it."""
        if self.reserve_price is None:
            return True
        return self.leader_max is not None and self.leader_max >= self.reserve_price

    @property
    def buy_now_available(self) -> bool:
        """Buy-It-Now is offered until the first bid, or with a reserve until it is met (and
        never once closed). The one place this rule lives: bidding publishes the answer
        (``bid.placed``, the live state, the answer to a change of terms) and every other part
        shows it. Time is left out, as it changes without an event: see
        :meth:`buy_now_offered`."""
        if self.buy_now_price is None or self.closed:
            return False
        if self.leader_id is None:
            return True
        return self.reserve_price is not None and not self.reserve_met

    def buy_now_offered(self, now: datetime) -> bool:
        """Whether a buyer may buy it now at ``now``: available and open for bids."""
        return self.buy_now_available and self.is_live(now)

    def increment(self, price: int) -> int:
        """This auction's increment at ``price``."""
        return increment_for(price, self.increments)

    def min_next_bid(self) -> int:
        """The least amount a new bidder may bid now."""
        if self.leader_id is None:
            return self.starting_price
        return self.current_price + self.increment(self.current_price)


class BidRejected(Problem):
    """A bid that breaks a rule; ``code`` says which."""


@dataclass(frozen=True)
class Entry:
    """One line of the public bid history: who, the visible price after it, placed by the
    system for a proxy maximum or not."""

    bidder_id: str
    current_price: int
    auto: bool = False


@dataclass(frozen=True)
class BidDecision:
    """What accepting a bid does."""

    state: AuctionState
    status: str  # "leading" or "outbid"
    #: Public history lines this bid adds (none for a leader raising their own maximum).
    entries: tuple[Entry, ...] = ()
    outbid_user_id: str | None = None
    extended: bool = False

    @property
    def visible(self) -> bool:
        """True when the public state changed (a ``bid.placed`` event)."""
        return bool(self.entries)


def check_bidder_standing(status: str | None) -> None:
    """Refuse a bidder whose account is suspended (``status`` from the replica of user events;
    None for an account not heard of yet, which may bid). The one check of the bid and the
    Buy-It-Now paths, both of which read the status with the row lock."""
    if status == "suspended":
        raise BidRejected(403, "user_suspended", "Your account is suspended.")


def _check_live(state: AuctionState, bidder_id: str, now: datetime) -> None:
    if not state.is_live(now):
        raise BidRejected(409, "auction_not_live", "The auction is not open for bids.",
                          {"status": state.status(now)})
    if bidder_id == state.seller_id:
        raise BidRejected(422, "own_auction", "You cannot bid on your own auction.")


def _with_reserve(state: AuctionState, price: int, leader_max: int) -> int:
    """The price jumps to the reserve once the leading maximum reaches it."""
    if state.reserve_price is not None and leader_max >= state.reserve_price:
        return max(price, state.reserve_price)
    return price


def _anti_sniping(state: AuctionState, now: datetime) -> tuple[AuctionState, bool]:
    """A bid inside the last window moves the end to now + window (popcorn bidding)."""
    window = timedelta(seconds=state.anti_sniping_seconds)
    if state.anti_sniping_seconds and state.ends_at - now < window:
        return replace(state, ends_at=now + window), True
    return state, False


def decide_bid(state: AuctionState, bidder_id: str, amount: int, now: datetime) -> BidDecision:
    """Apply a bid of maximum ``amount`` by ``bidder_id`` at ``now`` (proxy bidding).

    The visible price is the lowest that makes the highest maximum win: the second-highest
    maximum plus one increment, capped at the highest maximum, and at least the reserve once
    the highest maximum reaches it; at equal maximums the earlier bid wins. A leader raising
    their own maximum changes nothing visible (unless the raise reaches the reserve).
    """
    _check_live(state, bidder_id, now)
    if state.leader_id is None:
        if amount < state.starting_price:
            raise _too_low(state.starting_price)
        price = _with_reserve(state, state.starting_price, amount)
        new = replace(state, current_price=price, leader_id=bidder_id, leader_max=amount)
        return _accepted(new, now, "leading", (Entry(bidder_id, price),))

    assert state.leader_max is not None
    if bidder_id == state.leader_id:
        if amount <= state.leader_max:
            raise BidRejected(422, "too_low", "Raise your maximum above your current one.",
                              {"min_next_bid": state.leader_max + 1})
        price = _with_reserve(state, state.current_price, amount)
        new = replace(state, leader_max=amount, current_price=price)
        if price == state.current_price:  # a secret raise: nothing public changes
            return BidDecision(new, "leading")
        return _accepted(new, now, "leading", (Entry(bidder_id, price),))

    minimum = state.min_next_bid()
    if amount < minimum:
        raise _too_low(minimum)
    if amount > state.leader_max:
        price = min(amount, state.leader_max + state.increment(state.leader_max))
        price = _with_reserve(state, price, amount)
        entries = []
        if state.leader_max > state.current_price:  # the system bid the old leader's maximum
            entries.append(Entry(state.leader_id, state.leader_max, auto=True))
        entries.append(Entry(bidder_id, price))
        new = replace(state, current_price=price, leader_id=bidder_id, leader_max=amount)
        return _accepted(new, now, "leading", tuple(entries), outbid=state.leader_id)
    # The leader's maximum covers this bid: the system bids for the leader right away.
    price = min(state.leader_max, amount + state.increment(amount))
    price = _with_reserve(state, price, state.leader_max)
    new = replace(state, current_price=price)
    entries = (Entry(bidder_id, amount), Entry(state.leader_id, price, auto=True))
    return _accepted(new, now, "outbid", entries)


def _accepted(state: AuctionState, now: datetime, status: str, entries: tuple[Entry, ...],
              outbid: str | None = None) -> BidDecision:
    state, extended = _anti_sniping(state, now)
    state = replace(state, bid_count=state.bid_count + len(entries), seq=state.seq + 1)
    return BidDecision(state, status, entries, outbid_user_id=outbid, extended=extended)


def _too_low(minimum: int) -> BidRejected:
    return BidRejected(422, "too_low", f"The bid must be at least {minimum}.",
                       {"min_next_bid": minimum})


@dataclass(frozen=True)
class CloseDecision:
    """How an auction ended."""

    state: AuctionState
    outcome: str  # sold | unsold_no_bids | unsold_reserve_not_met | cancelled
    winner_id: str | None
    price: int | None
    entries: tuple[Entry, ...] = field(default=())


def decide_buy_now(state: AuctionState, buyer_id: str, now: datetime) -> CloseDecision:
    """Buy at the Buy-It-Now price: ends the auction at once for this buyer."""
    _check_live(state, buyer_id, now)
    if not state.buy_now_available:
        raise BidRejected(409, "buy_now_unavailable",
                          "Buy It Now is no longer available for this auction.")
    price = state.buy_now_price
    # Two facts, two numbers: the purchase (seq + 1, a bid.placed) and the end (seq + 2).
    new = replace(state, closed=True, current_price=price, leader_id=buyer_id, leader_max=price,
                  bid_count=state.bid_count + 1, seq=state.seq + 2)
    return CloseDecision(new, "sold", buyer_id, price, (Entry(buyer_id, price),))


def decide_close(state: AuctionState, now: datetime) -> CloseDecision | None:
    """Close the auction if it is due at ``now``; None if it is not (or already closed)."""
    if state.closed or now < state.ends_at:
        return None
    new = replace(state, closed=True, seq=state.seq + 1)
    if state.leader_id is None:
        return CloseDecision(new, "unsold_no_bids", None, None)
    if not state.reserve_met:
        return CloseDecision(new, "unsold_reserve_not_met", None, None)
    return CloseDecision(new, "sold", state.leader_id, state.current_price)


def check_seller_may_change(state: AuctionState, outcome: str | None, now: datetime) -> None:
    """Raise unless the seller may still withdraw the listing or change its terms (prices,
    increments, schedule, anything but an addition to the description): only while nobody has
    bid and it has not ended. Decided here, under the row lock, because bids decide it."""
    if outcome == "cancelled":
        raise Problem(409, "auction_cancelled", "The listing was cancelled.")
    if state.closed or now >= state.ends_at:
        raise Problem(409, "auction_ended", "The auction has ended.")
    if state.bid_count > 0 or state.leader_id is not None:
        raise Problem(409, "listing_locked", "The listing has bids: it can no longer be "
                                             "withdrawn, and only its description added to.")


def decide_cancel(state: AuctionState) -> CloseDecision | None:
    """The seller withdrew the listing: no more bids, nobody wins."""
    if state.closed:
        return None
    return CloseDecision(replace(state, closed=True, seq=state.seq + 1), "cancelled", None, None)


def mask_name(name: str | None) -> str:
    """A bidder's display name as the public history shows it: ``a***e``."""
    if not name:
        return "***"
    return f"{name[0]}***{name[-1]}" if len(name) > 2 else f"{name[0]}***"
