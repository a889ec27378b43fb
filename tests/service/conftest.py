"""Service tests: each service's real app on this run's PostgreSQL database and RabbitMQ vhost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auction_common.events import isoformat, make_envelope
from tools.services import SERVICES

SPECS = {spec.package: spec for spec in SERVICES}


@pytest.fixture(scope="session")
def settings_for(database, amqp_url, keypair, tmp_path_factory):
    """Settings of a service for this run (its own role's URL, this run's vhost and keys)."""
    private_key, public_key = keypair
    media_root = tmp_path_factory.mktemp("media")

    def make(package: str, **extra):
        values = dict(database_url=database[package], event_bus="rabbitmq", amqp_url=amqp_url,
                      jwt_public_key_file=public_key, log_json=False, db_pool_size=20)
        if package == "user_service":
            values["jwt_private_key_file"] = private_key
            # Tests sign up many accounts a minute from one address; the limits have their own.
            values["rate_limit_per_ip"] = "100000/minute"
        if package == "auction_service":
            values["media_root"] = media_root
        values.update(extra)
        return SPECS[package].settings_type()(**values)

    return make


def _build(settings_for, package: str, **wiring):
    settings = settings_for(package)
    module = SPECS[package].module("app")
    parts = module.build_parts(settings)
    app = module.create_app(settings, parts, **wiring)
    app.testing = True
    return app, parts


@pytest.fixture(scope="session")
def users(settings_for):
    """user_service: (app, parts)."""
    return _build(settings_for, "user_service")


@pytest.fixture(scope="session")
def catalog(settings_for, bidding):
    """auction_service: (app, parts), asking this run's bidding_service app about sellers'
    changes (in process, as the embedded mode does)."""
    from auction_service.bidding import BiddingGate, wsgi_transport

    return _build(settings_for, "auction_service",
                  bidding=BiddingGate(wsgi_transport(bidding[0])))


@pytest.fixture(scope="session")
def bidding(settings_for):
    """bidding_service: (app, parts)."""
    return _build(settings_for, "bidding_service")


@pytest.fixture(scope="session")
def notifications(settings_for):
    """notification_service: (app, parts)."""
    return _build(settings_for, "notification_service")


class Account:
    """A user signed in through user_service's real endpoints."""

    def __init__(self, user_client, name: str):
        self.name = name
        self.email = f"{name}.{uuid.uuid4().hex[:8]}@example.com"
        self.password = "correct horse 42"
        registered = user_client.post("/api/auth/register", json={
            "email": self.email, "password": self.password, "display_name": name})
        assert registered.status_code == 201, registered.get_json()
        self.id = registered.get_json()["id"]
        login = user_client.post("/api/auth/login",
                                 json={"email": self.email, "password": self.password})
        assert login.status_code == 200, login.get_json()
        self.tokens = login.get_json()
        self.headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}


@pytest.fixture(scope="session")
def account(users):
    """Make a signed-in user: ``account("ann")``."""
    client = users[0].test_client()
    return lambda name="user": Account(client, name)


@pytest.fixture
def open_auction(bidding):
    """Deliver an ``auction.created`` event to bidding_service's real consumer."""
    from bidding_service.consumers import catalog_consumer

    _, parts = bidding
    consumer = catalog_consumer(parts.db)

    def make(seller_id: str, starting_price: int = 1000, seconds: float = 600,
             starts_in: float = -1, **pricing) -> str:
        now = datetime.now(UTC)
        auction_id = str(uuid.uuid4())
        consumer(make_envelope("auction.created", {
            "auction_id": auction_id, "seller_id": seller_id, "title": "Lamp",
            "category": "home", "currency": "EUR", "starting_price": starting_price,
            "starts_at": isoformat(now + timedelta(seconds=starts_in)),
            "ends_at": isoformat(now + timedelta(seconds=seconds)),
            "reserve_price": None, "buy_now_price": None, "increments": None,
            "anti_sniping_seconds": 0, **pricing,
        }, producer="auction_service"))
        return auction_id

    return make
