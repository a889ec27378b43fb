"""A tiny, independent model of the bid rules, written from the rules' text.

It keeps every bidder's maximum and recomputes the price from them (the engine keeps only the
leader and the leader's maximum); times are plain numbers in one unit (the property test uses
whole milliseconds). Tests check that the engine and this model agree on every answer, price,
leader, count, end and outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_BANDS = [(0, 5), (100, 25), (500, 50), (2_500, 100), (10_000, 250), (25_000, 500),
                 (50_000, 1_000), (100_000, 2_500), (250_000, 5_000), (500_000, 10_000)]


@dataclass
class ReferenceAuction:
    seller: str
    starting_price: int
    starts_at: float
    ends_at: float
    reserve: int | None = None
    buy_now: int | None = None
    window: float = 0
    bands: list[tuple[int, int]] = field(default_factory=lambda: list(DEFAULT_BANDS))
    maxima: dict[str, int] = field(default_factory=dict)  # bidder -> maximum
    order: list[str] = field(default_factory=list)  # when each maximum was set
    price: int | None = None
    count: int = 0  # lines of public history
    closed: bool = False
    outcome: tuple | None = None

    def step(self, price: int) -> int:
        return [inc for floor, inc in self.bands if price >= floor][-1]

    def leader(self) -> str | None:
        if not self.maxima:
            return None
        # Highest maximum wins; at equal maximums, the earlier one.
        return max(self.maxima, key=lambda b: (self.maxima[b], -self.order.index(b)))

    def reserve_met(self) -> bool:
        leader = self.leader()
        return self.reserve is None or (leader is not None and self.maxima[leader] >= self.reserve)

    def current_price(self) -> int:
        return self.starting_price if self.price is None else self.price

    def minimum(self) -> int:
        return self.starting_price if self.price is None else self.price + self.step(self.price)

    def live(self, now: float) -> bool:
        return not self.closed and self.starts_at <= now < self.ends_at

    def _visible(self, lines: int, now: float) -> None:
        self.count += lines
        if self.window and self.ends_at - now < self.window:
            self.ends_at = now + self.window

    def _floor_at_reserve(self, price: int) -> int:
        top = max(self.maxima.values())
        return max(price, self.reserve) if self.reserve is not None and top >= self.reserve \
            else price

    def bid(self, bidder: str, amount: int, now: float) -> str:
        """'leading', 'outbid' or the refusal code."""
        if not self.live(now):
            return "auction_not_live"
        if bidder == self.seller:
            return "own_auction"
        leader = self.leader()
        if bidder == leader:
            if amount <= self.maxima[bidder]:
                return "too_low"
            self.maxima[bidder] = amount
            raised = self._floor_at_reserve(self.price)
            if raised != self.price:  # only reaching the reserve moves the price
                self.price = raised
                self._visible(1, now)
            return "leading"
        if amount < self.minimum():
            return "too_low"
        old_price, old_leader = self.price, leader
        old_max = self.maxima.get(leader) if leader else None
        if bidder in self.maxima:
            self.order.remove(bidder)
        self.maxima[bidder] = amount
        self.order.append(bidder)
        ranked = sorted(self.maxima.values(), reverse=True)
        if len(ranked) == 1:
            price = self.starting_price
        else:
            top, second = ranked[0], ranked[1]
            price = max(self.starting_price, min(top, second + self.step(second)))
        self.price = self._floor_at_reserve(price)
        if old_leader is None:
            lines = 1
        elif self.leader() == bidder:
            lines = 2 if old_max > old_price else 1
        else:
            lines = 2
        self._visible(lines, now)
        return "leading" if self.leader() == bidder else "outbid"

    def buy(self, buyer: str, now: float) -> str:
        if not self.live(now):
            return "auction_not_live"
        if buyer == self.seller:
            return "own_auction"
        available = self.buy_now is not None and (not self.maxima or not self.reserve_met())
        if not available:
            return "buy_now_unavailable"
        self.closed, self.price = True, self.buy_now
        self.count += 1
        self.outcome = ("sold", buyer, self.buy_now)
        return "won"

    def close(self, now: float) -> tuple | None:
        if self.closed or now < self.ends_at:
            return None
        self.closed = True
        leader = self.leader()
        if leader is None:
            self.outcome = ("unsold_no_bids", None, None)
        elif not self.reserve_met():
            self.outcome = ("unsold_reserve_not_met", None, None)
        else:
            self.outcome = ("sold", leader, self.price)
        return self.outcome
