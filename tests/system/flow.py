"""The walking skeleton's user story, run against any way of running the platform."""

from __future__ import annotations

import re
import time

import requests
import socketio

from tests.support.api import Api
from tests.support.waiting import wait_for


class Watcher:
    """A Socket.IO client watching one auction (optionally signed in), recording events."""

    def __init__(self, base_url: str, auction_id: str, token: str | None = None):
        self.events: dict[str, list[dict]] = {}
        self.client = socketio.Client(reconnection=False)
        for name in ("bid.placed", "bid.outbid", "auction.ended", "notification"):
            self.client.on(name, lambda data, name=name: self._record(name, data))
        self.client.connect(base_url, transports=["websocket"],
                            auth={"token": token} if token else None, wait_timeout=10)
        answer = self.client.call("watch", {"auction_id": auction_id}, timeout=10)
        assert answer["ok"], answer

    def _record(self, name: str, data: dict) -> None:
        data["_received"] = time.monotonic()
        self.events.setdefault(name, []).append(data)

    def of(self, name: str) -> list[dict]:
        return self.events.get(name, [])

    def close(self) -> None:
        self.client.disconnect()


def run_auction_story(base_url: str) -> dict:
    """Seller lists; two bidders bid; watchers see it live; the outbid one is told in the app
    and by email. Returns figures for the caller's own checks."""
    api = Api(base_url)
    seller, alice, bob = api.register("seller"), api.register("alice"), api.register("bob")
    auction = seller.create_auction(seconds=600, title="Brass telescope", starting_price=2000)
    assert auction["status"] == "live" and auction["current_price"] == 2000
    assert any(item["id"] == auction["id"] for item in api.get("/api/auctions").json()["items"])
    api.wait_until_biddable(auction["id"])

    anonymous = Watcher(base_url, auction["id"])
    alice_screen = Watcher(base_url, auction["id"], alice.tokens["access_token"])
    try:
        first = alice.bid(auction["id"], 3000)
        assert first.status_code == 201, first.text
        assert first.json()["status"] == "leading"
        placed = wait_for(lambda: anonymous.of("bid.placed"), message="bid.placed on the socket")
        assert {"auction_id", "seq", "current_price", "bid_count", "leader_name", "ends_at",
                "server_time"} <= set(placed[0])
        assert "leader_id" not in placed[0], "the auction's room names bidders only masked"
        assert (placed[0]["seq"], placed[0]["current_price"]) == (1, 2000)

        too_low = bob.bid(auction["id"], 2000)
        assert too_low.status_code == 422
        assert too_low.json()["error"]["code"] == "too_low"
        assert too_low.json()["error"]["details"]["min_next_bid"] == 2050
        own = seller.bid(auction["id"], 9000)
        assert own.json()["error"]["code"] == "own_auction"

        second = bob.bid(auction["id"], 5000)
        assert second.status_code == 201
        assert (second.json()["status"], second.json()["current_price"]) == ("leading", 3100)
        wait_for(lambda: len(anonymous.of("bid.placed")) == 2, message="the second bid, live")
        assert anonymous.of("bid.placed")[1]["current_price"] == 3100
        wait_for(lambda: alice_screen.of("bid.outbid"), message="alice told she is outbid")
        assert not anonymous.of("bid.outbid"), "private news stays private"

        state = api.get(f"/api/bids/auctions/{auction['id']}", headers=bob.headers).json()
        # Three lines of history: alice at 2000, the system for alice at her 3000, bob at 3100.
        assert (state["current_price"], state["bid_count"], state["leader_id"]) == (
            3100, 3, bob.id)
        assert state["you_lead"] is True
        assert bob.id not in api.live_state(auction["id"]).text, "public: masked names only"
        notes = wait_for(alice.notifications, message="alice's in-app notification")
        assert "Brass telescope" in notes[0]["title"]
        mail = wait_for(lambda: [m for m in api.mailbox() if alice.email in m["to"]],
                        timeout=15, message="the outbid email")
        assert "outbid" in mail[0]["subject"].lower()
        assert "EUR 31.00" in mail[0]["text"]
        listing = wait_for(lambda: (r := api.get(f"/api/auctions/{auction['id']}").json())
                           ["bid_count"] == 3 and r, message="the catalog's read model")
        assert listing["current_price"] == 3100
        home = api.get("/")
        assert home.status_code == 200 and "Brass telescope" in home.text
        return {"auction": auction, "api": api, "seller": seller}
    finally:
        anonymous.close()
        alice_screen.close()


def check_api_docs(base_url: str) -> None:
    """Swagger UI at /api/docs: the page, its vendored files, and each of the four services'
    documents it lists, all answered through this way of running's routing."""
    page = requests.get(f"{base_url}/api/docs", timeout=10)
    assert page.status_code == 200, page.text[:500]
    documents = re.findall(r'<a class="api-document" href="([^"]+)"', page.text)
    assert len(documents) == 4
    for url in documents:
        document = requests.get(f"{base_url}{url}", timeout=10).json()
        assert document["openapi"].startswith("3.") and document["paths"], url
    for asset in re.findall(r'(?:src|href)="(/(?:static|api/docs)/[^"]+)"', page.text):
        assert requests.get(f"{base_url}{asset}", timeout=10).status_code == 200, asset

