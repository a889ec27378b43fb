"""A tiny, independent model of the bid rules, written from the rules' text.

It keeps every bidder's maximum and recomputes the price from them (the engine keeps only the
leader and the leader's maximum). Tests check that the engine and this model agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BANDS = [(0, 5), (100, 25), (500, 50), (2_500, 100), (10_000, 250), (25_000, 500),
         (50_000, 1_000), (100_000, 2_500), (250_000, 5_000), (500_000, 10_000)]


def step(price: int) -> int:
    return [inc for floor, inc in BANDS if price >= floor][-1]


@dataclass
class ReferenceAuction:
    seller: str
    starting_price: int
    starts_at: float
    ends_at: float
    maxima: dict[str, int] = field(default_factory=dict)  # bidder -> maximum
    order: list[str] = field(default_factory=list)  # when each bidder's maximum was set first
    price: int | None = None
    count: int = 0
    closed: bool = False

    def leader(self) -> str | None:
        if not self.maxima:
            return None
        # Highest maximum wins; at equal maximums, the earlier one.
        return max(self.maxima, key=lambda b: (self.maxima[b], -self.order.index(b)))

    def minimum(self) -> int:
        return self.starting_price if self.price is None else self.price + step(self.price)

    def bid(self, bidder: str, amount: int, now: float) -> str:
        """'leading', 'outbid' or the refusal code."""
        if self.closed or not (self.starts_at <= now < self.ends_at):
            return "auction_not_live"
        if bidder == self.seller:
            return "own_auction"
        leader = self.leader()
        if bidder == leader:
            if amount <= self.maxima[bidder]:
                return "too_low"
            self.maxima[bidder] = amount  # the price does not move
            return "leading"
        if amount < self.minimum():
            return "too_low"
        if bidder in self.maxima:
            self.order.remove(bidder)
        self.maxima[bidder] = amount
        self.order.append(bidder)
        self.count += 1
        ranked = sorted(self.maxima.values(), reverse=True)
        if len(ranked) == 1:
            self.price = self.starting_price
        else:
            top, second = ranked[0], ranked[1]
            self.price = max(self.starting_price, min(top, second + step(second)))
        return "leading" if self.leader() == bidder else "outbid"

    def close(self, now: float) -> tuple[str, str | None, int | None] | None:
        if self.closed or now < self.ends_at:
            return None
        self.closed = True
        leader = self.leader()
        return ("sold", leader, self.price) if leader else ("unsold_no_bids", None, None)
