"""A seller and a bidder acting at the same moment, black-box over HTTP: whichever comes first,
the platform ends in one of the two consistent outcomes, and the catalog's copy agrees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.api import Api, User
from tests.support.waiting import wait_for

ACTIONS = ("cancel", "raise_reserve", "new_buy_now_price")


def _seller_acts(api: Api, seller: User, auction_id: str, action: str):
    if action == "cancel":
        return api.post(f"/api/auctions/{auction_id}/cancel", headers=seller.headers)
    changes = {"raise_reserve": {"reserve_price": 3000},
               "new_buy_now_price": {"buy_now_price": 7000}}[action]
    return api.session.patch(f"{api.base_url}/api/auctions/{auction_id}", json=changes,
                             headers=seller.headers, timeout=30)


def seller_and_bidder_race(base_url: str, rounds: int) -> dict[str, int]:
    """``rounds`` of each action against a bid at the same moment; asserts consistency and
    returns how often each side came first."""
    api = Api(base_url)
    seller = api.register("seller")
    first = {"bid": 0, "seller": 0}
    for action in ACTIONS:
        for _ in range(rounds):
            bidder = api.register("bidder")
            auction = seller.create_auction(reserve_price=2000, buy_now_price=5000)
            api.wait_until_biddable(auction["id"])
            # Each side its own connection, fired together.
            seller_api, bidder_api = Api(base_url), Api(base_url)
            bidder.api = bidder_api
            with ThreadPoolExecutor(2) as pool:
                by_seller = pool.submit(_seller_acts, seller_api, seller, auction["id"], action)
                by_bidder = pool.submit(bidder.bid, auction["id"], 2500)
                by_seller, by_bidder = by_seller.result(), by_bidder.result()
            bidder.api = api
            side = _check(api, seller, auction["id"], action, by_seller, by_bidder)
            first[side] += 1
    return first


def _check(api: Api, seller: User, auction_id: str, action: str, by_seller, by_bidder) -> str:
    assert by_seller.status_code in (200, 409), by_seller.text
    assert by_bidder.status_code in (201, 409), by_bidder.text
    if by_seller.status_code == 409:  # the bid came first: it stands, nothing changed
        assert by_seller.json()["error"]["code"] == "listing_locked"
        assert by_bidder.status_code == 201 and by_bidder.json()["reserve_met"] is True
        expected_count, expected_status, terms = 1, "live", (2000, 5000)
        side = "bid"
    else:  # the seller came first: in force for the bid
        side = "seller"
        if action == "cancel":
            assert by_bidder.status_code == 409, by_bidder.text
            assert by_bidder.json()["error"]["code"] == "auction_not_live"
            expected_count, expected_status, terms = 0, "cancelled", (2000, 5000)
        else:
            assert by_bidder.status_code == 201, by_bidder.text
            raised = action == "raise_reserve"
            assert by_bidder.json()["reserve_met"] is (not raised)
            expected_count, expected_status = 1, "live"
            terms = (3000, 5000) if raised else (2000, 7000)
    live = api.live_state(auction_id).json()
    assert live["bid_count"] == expected_count
    assert (live["outcome"] == "cancelled") is (expected_status == "cancelled")

    def catalog_agrees():
        view = api.get(f"/api/auctions/{auction_id}", headers=seller.headers).json()
        return (view["status"], view["bid_count"], view["reserve_price"],
                view["buy_now_price"]) == (expected_status, expected_count, *terms) and view

    wait_for(catalog_agrees, timeout=15, message=f"the catalog's copy of {auction_id}")
    return side
