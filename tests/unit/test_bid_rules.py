"""The bid rules, as a bidder sees them; and the engine against the reference model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidding_service.domain import (
    AuctionState,
    BidRejected,
    decide_bid,
    decide_buy_now,
    decide_close,
    increment_for,
    mask_name,
)

from .reference_model import ReferenceAuction

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SELLER, ANN, BOB, CAT = "seller", "ann", "bob", "cat"


def auction(**changes) -> AuctionState:
    fields = dict(auction_id="a1", seller_id=SELLER, starting_price=1000, starts_at=T0,
                  ends_at=T0 + timedelta(minutes=10))
    fields.update(changes)
    return AuctionState(**fields)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def at_ms(milliseconds: int) -> datetime:
    return T0 + timedelta(milliseconds=milliseconds)


def bid(state, bidder, amount, seconds=1.0):
    return decide_bid(state, bidder, amount, at(seconds))


def refusal(state, bidder, amount, seconds=1.0) -> BidRejected:
    with pytest.raises(BidRejected) as caught:
        bid(state, bidder, amount, seconds)
    return caught.value


@pytest.mark.parametrize("price, increment", [
    (0, 5), (99, 5), (100, 25), (499, 25), (500, 50), (2_499, 50), (2_500, 100), (9_999, 100),
    (10_000, 250), (25_000, 500), (50_000, 1_000), (100_000, 2_500), (250_000, 5_000),
    (500_000, 10_000), (10**9, 10_000),
])
def test_the_increment_follows_the_price_band(price, increment):
    assert increment_for(price) == increment


def test_the_first_bid_leads_at_the_starting_price_keeping_its_maximum_secret():
    decision = bid(auction(), ANN, 5000)
    assert decision.status == "leading"
    assert decision.state.current_price == 1000
    assert decision.state.leader_max == 5000
    assert decision.state.min_next_bid() == 1050


def test_a_first_bid_below_the_starting_price_is_refused_with_the_minimum():
    rejection = refusal(auction(), ANN, 999)
    assert rejection.code == "too_low"
    assert rejection.details == {"min_next_bid": 1000}


def test_a_bid_below_the_next_minimum_is_refused_with_the_minimum():
    state = bid(auction(), ANN, 5000).state
    rejection = refusal(state, BOB, 1049)
    assert (rejection.code, rejection.details) == ("too_low", {"min_next_bid": 1050})


def test_a_lower_maximum_is_outbid_at_once_and_the_price_rises_to_beat_it():
    state = bid(auction(), ANN, 5000).state
    decision = bid(state, BOB, 2000)
    assert decision.status == "outbid"
    assert decision.state.leader_id == ANN
    assert decision.state.current_price == 2050  # 2000 + one increment
    assert decision.outbid_user_id is None


def test_a_higher_maximum_takes_the_lead_one_increment_above_the_old_maximum():
    state = bid(auction(), ANN, 2000).state
    decision = bid(state, BOB, 5000)
    assert decision.status == "leading"
    assert decision.state.leader_id == BOB
    assert decision.state.current_price == 2050
    assert decision.outbid_user_id == ANN


def test_the_new_leaders_price_is_capped_at_their_own_maximum():
    state = bid(auction(), ANN, 2000).state
    decision = bid(state, BOB, 2010)
    assert decision.state.current_price == 2010


def test_at_equal_maximums_the_earlier_bid_wins_at_that_price():
    state = bid(auction(), ANN, 3000).state
    decision = bid(state, BOB, 3000)
    assert decision.status == "outbid"
    assert decision.state.leader_id == ANN
    assert decision.state.current_price == 3000


def test_the_leader_may_raise_their_maximum_without_raising_the_price():
    state = bid(bid(auction(), ANN, 2000).state, BOB, 1500).state
    decision = bid(state, ANN, 9000)
    assert decision.status == "leading"
    assert not decision.visible
    assert decision.state.current_price == state.current_price
    assert decision.state.leader_max == 9000


def test_the_seller_cannot_bid_on_their_own_auction():
    assert refusal(auction(), SELLER, 5000).code == "own_auction"


@pytest.mark.parametrize("seconds", [-1, 600, 601])
def test_no_bid_is_accepted_before_the_start_or_from_the_end_on(seconds):
    assert refusal(auction(), ANN, 5000, seconds).code == "auction_not_live"


def test_a_closed_auction_takes_no_bid_even_before_its_end():
    assert refusal(auction(closed=True), ANN, 5000).code == "auction_not_live"


def test_closing_sells_to_the_leader_at_the_current_price_once():
    state = bid(bid(auction(), ANN, 2000).state, BOB, 1500).state
    assert decide_close(state, at(599)) is None
    decision = decide_close(state, at(600))
    assert (decision.outcome, decision.winner_id, decision.price) == ("sold", ANN, 1550)
    assert decide_close(decision.state, at(601)) is None


def test_closing_without_bids_is_unsold():
    decision = decide_close(auction(), at(600))
    assert (decision.outcome, decision.winner_id, decision.price) == ("unsold_no_bids", None, None)


def test_a_maximum_reaching_the_reserve_lifts_the_price_to_the_reserve():
    state = auction(reserve_price=5000)
    first = bid(state, ANN, 3000)
    assert (first.state.current_price, first.state.reserve_met) == (1000, False)
    second = bid(first.state, ANN, 6000)
    assert (second.state.current_price, second.state.reserve_met) == (5000, True)
    assert second.visible, "reaching the reserve is public news"


def test_reserve_not_met_ends_unsold():
    state = bid(auction(reserve_price=5000), ANN, 3000).state
    decision = decide_close(state, at(600))
    assert (decision.outcome, decision.winner_id) == ("unsold_reserve_not_met", None)


def test_buy_now_ends_the_auction_at_once_until_the_first_bid():
    decision = decide_buy_now(auction(buy_now_price=9000), BOB, at(5))
    assert (decision.outcome, decision.winner_id, decision.price) == ("sold", BOB, 9000)
    assert decision.state.closed
    after_a_bid = bid(auction(buy_now_price=9000), ANN, 1000).state
    with pytest.raises(BidRejected) as caught:
        decide_buy_now(after_a_bid, BOB, at(6))
    assert caught.value.code == "buy_now_unavailable"


def test_buy_now_stays_until_the_reserve_is_met():
    state = bid(auction(buy_now_price=9000, reserve_price=5000), ANN, 3000).state
    assert state.buy_now_available
    assert not bid(state, ANN, 5000).state.buy_now_available


def test_a_bid_inside_the_last_window_extends_the_end():
    state = auction(anti_sniping_seconds=120)
    early = bid(state, ANN, 2000, seconds=100)
    assert not early.extended and early.state.ends_at == state.ends_at
    late = bid(early.state, BOB, 3000, seconds=550)
    assert late.extended
    assert late.state.ends_at == at(550 + 120)


def test_a_lower_maximum_adds_two_history_lines():
    state = bid(auction(), ANN, 5000).state
    decision = bid(state, BOB, 2000)
    assert [(e.bidder_id, e.current_price, e.auto) for e in decision.entries] == [
        (BOB, 2000, False), (ANN, 2050, True)]
    assert decision.state.bid_count == 3


@pytest.mark.parametrize("name, masked", [("alice", "a***e"), ("al", "a***"), ("", "***")])
def test_bidder_names_are_masked_in_public(name, masked):
    assert mask_name(name) == masked


custom_bands = st.lists(st.tuples(st.integers(1, 50_000), st.integers(1, 2_000)), max_size=4)

actions = st.lists(
    st.tuples(
        st.sampled_from(["bid", "bid", "bid", "bid", "buy"]),
        st.sampled_from([SELLER, ANN, BOB, CAT]),
        st.integers(min_value=900, max_value=30_000),
        # Milliseconds to wait before this action: whole numbers, so that the engine (times
        # to the microsecond) and the model (plain numbers) never disagree by a rounding.
        st.integers(min_value=0, max_value=90_000),
    ),
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(actions=actions, starting_price=st.integers(min_value=1, max_value=20_000),
       reserve=st.one_of(st.none(), st.integers(1, 30_000)),
       buy_now=st.one_of(st.none(), st.integers(1, 40_000)),
       window=st.sampled_from([0, 30, 120]), bands=custom_bands)
def test_the_engine_agrees_with_the_reference_model(actions, starting_price, reserve, buy_now,
                                                     window, bands):
    table = tuple(sorted({0: 5, **dict(bands)}.items()))
    state = auction(starting_price=starting_price, starts_at=at(5), ends_at=at(600),
                    reserve_price=reserve, buy_now_price=buy_now, anti_sniping_seconds=window,
                    increments=table)
    model = ReferenceAuction(SELLER, starting_price, 5_000, 600_000, reserve=reserve,
                             buy_now=buy_now, window=window * 1000, bands=list(table))
    now = 0
    last_price = state.current_price
    for kind, who, amount, wait in actions:
        now += wait
        if closing := decide_close(state, at_ms(now)):
            assert (closing.outcome, closing.winner_id, closing.price) == model.close(now)
            state = closing.state
        expected = model.buy(who, now) if kind == "buy" else model.bid(who, amount, now)
        try:
            if kind == "buy":
                decision = decide_buy_now(state, who, at_ms(now))
                assert (decision.outcome, decision.winner_id, decision.price) == model.outcome
                state = decision.state
                continue
            decision = decide_bid(state, who, amount, at_ms(now))
        except BidRejected as rejection:
            assert rejection.code == expected
            continue
        assert decision.status == expected
        state = decision.state
        assert state.leader_id == model.leader()
        assert state.current_price == model.current_price()
        assert state.bid_count == model.count
        assert state.reserve_met == model.reserve_met()
        assert state.ends_at == at_ms(model.ends_at)
        assert state.current_price >= last_price, "the price never goes down"
        assert state.current_price <= state.leader_max
        last_price = state.current_price
    final = max(now, (state.ends_at - T0) // timedelta(milliseconds=1))
    closing = decide_close(state, at_ms(final))
    expected_close = model.close(final)
    if closing is None:
        assert expected_close is None and model.closed
    else:
        assert (closing.outcome, closing.winner_id, closing.price) == expected_close
