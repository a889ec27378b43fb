"""A small client of the platform's public API, so that tests read like the product."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import requests

from tests.support.waiting import wait_for


class User:
    """A registered, signed-in user."""

    def __init__(self, api: Api, email: str, password: str, info: dict, tokens: dict):
        self.api, self.email, self.password = api, email, password
        self.id = info["id"]
        self.display_name = info["display_name"]
        self.tokens = tokens

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    def create_auction(self, seconds: int = 600, **fields) -> dict:
        """List an item ending in ``seconds``; returns the 201 body."""
        body = {
            "title": "Vintage camera", "description": "Works well.", "category": "electronics",
            "currency": "EUR", "starting_price": 1000,
            "ends_at": (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(),
        }
        body.update(fields)
        response = self.api.post("/api/auctions", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def bid(self, auction_id: str, amount: int, key: str | None = None) -> requests.Response:
        """POST /api/bids; returns the raw response."""
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        return self.api.post("/api/bids", json={"auction_id": auction_id, "amount": amount},
                             headers=headers)

    def notifications(self) -> list[dict]:
        response = self.api.get("/api/notifications", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["items"]


class Api:
    """The platform at ``base_url`` (the gateway, or the embedded process)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.base_url + path, timeout=30, **kwargs)

    def register(self, name: str | None = None, password: str = "correct horse 42") -> User:
        """Register and log in a new user with a unique email."""
        name = name or f"user{uuid.uuid4().hex[:8]}"
        email = f"{name}.{uuid.uuid4().hex[:6]}@example.com"
        response = self.post("/api/auth/register",
                             json={"email": email, "password": password, "display_name": name})
        assert response.status_code == 201, response.text
        login = self.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        return User(self, email, password, response.json(), login.json())

    def live_state(self, auction_id: str) -> requests.Response:
        return self.get(f"/api/bids/auctions/{auction_id}")

    def wait_until_biddable(self, auction_id: str, timeout: float = 10.0) -> dict:
        """Wait until bidding_service knows the auction (auction.created has arrived)."""
        return wait_for(lambda: (r := self.live_state(auction_id)).status_code == 200 and r.json(),
                        timeout, message=f"auction {auction_id} in bidding_service")

    def mailbox(self) -> list[dict]:
        response = self.get("/api/mailbox")
        assert response.status_code == 200, response.text
        return response.json()["items"]
