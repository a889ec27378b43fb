"""`docker compose up`, proven by running it: the real docker-compose.yml, in containers.

The stack is brought up as ``make compose-up`` does (``tools/compose_run.py``: Docker where an
engine answers, else podman with stand-in base images from Debian's packages), under a project
name of its own and on free ports, and used from outside as a user would: through the
gateway's published port, a Socket.IO client, and the mail catcher's API on its published
port. Then a container is killed with SIGKILL and must come back by its ``restart:`` policy,
and the data must survive ``down`` (without ``-v``) and ``up``. The stack is removed, volumes
and all, at the end.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
from dataclasses import dataclass

import pytest
import requests
from PIL import Image

from tests.support.api import Api
from tests.support.waiting import wait_for
from tests.system.flow import Watcher
from tools import compose_run
from tools.stack import free_port

pytestmark = pytest.mark.compose

PROJECT = "auction-compose-test"
#: The first run on a machine builds stand-in images and the service images.
UP_TIMEOUT = 1500
#: How long the first event of a fresh stack may take from one service to another. Each
#: process connects to the broker at its first publish, and under podman (4.3, aardvark-dns
#: 1.4) that connection's name lookup has been seen to wait ~40 s right after the containers
#: started (glibc's 5 s timeouts, two servers, two attempts, the search domain and the bare
#: name). The event is late, never lost: the outbox keeps it until the broker confirms it.
FIRST_EVENTS = 90


def engine_or_skip_reason() -> str | None:
    """None when a container engine can run here, else why this module is skipped."""
    if compose_run.docker_answers() or compose_run.podman_answers():
        return None
    return ("no container engine: no Docker engine answers and podman is not installed "
            "(`python -m tools.testenv` installs Debian's podman where it runs as root)")


@dataclass
class Running:
    """The compose project and where a user reaches it."""

    compose: compose_run.Compose
    gateway: str
    mail_api: str


@pytest.fixture(scope="module")
def stack():
    """The compose project, up and healthy, on free ports; removed with its volumes after."""
    reason = engine_or_skip_reason()
    if reason:
        pytest.skip(reason)
    ports = {"GATEWAY_PORT": free_port(), "RABBITMQ_UI_PORT": free_port(),
             "MAILPIT_UI_PORT": free_port()}
    env = {name: str(port) for name, port in ports.items()}
    # As an operator would set it (the file's default is for a developer's machine only).
    env["FRONTEND_SECRET_KEY"] = secrets.token_urlsafe(32)
    compose = compose_run.choose(PROJECT, env)
    compose.down(volumes=True)  # whatever an interrupted run left
    try:
        compose.up(UP_TIMEOUT)
        yield Running(compose, f"http://127.0.0.1:{ports['GATEWAY_PORT']}",
                      f"http://127.0.0.1:{ports['MAILPIT_UI_PORT']}/api/v1")
    finally:
        compose.down(volumes=True)


def photo() -> bytes:
    """A small JPEG."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def mail_to(stack, address: str) -> list[dict]:
    """The caught messages to ``address``, read from the mail catcher's own API (Mailpit's)."""
    listed = requests.get(f"{stack.mail_api}/messages", timeout=10)
    assert listed.status_code == 200, listed.text
    return [requests.get(f"{stack.mail_api}/message/{item['ID']}", timeout=10).json()
            for item in listed.json()["messages"]
            if address in [to["Address"] for to in item["To"]]]


def test_the_auction_story_runs_through_the_gateway(stack):
    api = Api(stack.gateway)
    seller, alice, bob = api.register("seller"), api.register("alice"), api.register("bob")
    auction = seller.create_auction(seconds=900, title="Brass telescope", starting_price=2000)
    uploaded = api.session.post(f"{stack.gateway}/api/auctions/{auction['id']}/images",
                                files={"file": ("telescope.jpg", photo(), "image/jpeg")},
                                headers=seller.headers, timeout=30)
    assert uploaded.status_code == 201, uploaded.text
    # Written by auction_service into the media volume, served by the gateway's nginx.
    served = api.get(uploaded.json()["display_url"])
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("image/") and served.content
    found = api.get("/api/auctions", params={"q": "telescope"}).json()["items"]
    assert auction["id"] in [item["id"] for item in found]
    api.wait_until_biddable(auction["id"], timeout=FIRST_EVENTS)

    everyone = Watcher(stack.gateway, auction["id"])
    alice_screen = Watcher(stack.gateway, auction["id"], alice.tokens["access_token"])
    try:
        first = alice.bid(auction["id"], 3000)
        assert first.status_code == 201, first.text
        assert first.json()["status"] == "leading"
        placed = wait_for(lambda: everyone.of("bid.placed"), timeout=FIRST_EVENTS,
                          message="the first bid pushed to the watchers")
        assert placed[0]["current_price"] == 2000

        second = bob.bid(auction["id"], 5000)
        assert second.status_code == 201, second.text
        assert (second.json()["status"], second.json()["current_price"]) == ("leading", 3100)
        wait_for(lambda: len(everyone.of("bid.placed")) == 2, timeout=20,
                 message="the second bid, live")
        assert everyone.of("bid.placed")[1]["current_price"] == 3100
        wait_for(lambda: alice_screen.of("bid.outbid"), timeout=FIRST_EVENTS,
                 message="alice told on her screen that she is outbid")
    finally:
        everyone.close()
        alice_screen.close()

    mail = wait_for(lambda: mail_to(stack, alice.email), timeout=FIRST_EVENTS, interval=1,
                    message="the outbid email in the mail catcher")
    assert "outbid" in mail[0]["Subject"].lower()
    assert "Brass telescope" in mail[0]["Text"] and "EUR 31.00" in mail[0]["Text"]
    page = api.get(f"/auctions/{auction['id']}")
    assert page.status_code == 200 and "Brass telescope" in page.text


def test_a_killed_container_comes_back_by_its_restart_policy(stack):
    before = stack.compose.container("bidding-service-web")
    assert before.ready and before.pid
    os.kill(before.pid, signal.SIGKILL)  # its PID 1, as a crash would

    def back():
        now = stack.compose.container("bidding-service-web")
        return now.pid not in (0, before.pid) and now.ready and now

    wait_for(back, timeout=180, interval=1, message="bidding-service-web running and "
             "healthy again after kill -9")
    api = Api(stack.gateway)
    seller, bidder = api.register("seller"), api.register("bidder")
    auction = seller.create_auction(seconds=900, starting_price=1000)
    api.wait_until_biddable(auction["id"], timeout=FIRST_EVENTS)
    answer = bidder.bid(auction["id"], 1500)
    assert answer.status_code == 201, answer.text


def test_the_data_survives_down_and_up(stack):
    api = Api(stack.gateway)
    seller, bidder = api.register("keeper"), api.register("bidder")
    auction = seller.create_auction(seconds=900, title="Oak chest", starting_price=5000)
    api.wait_until_biddable(auction["id"], timeout=30)
    assert bidder.bid(auction["id"], 6000).status_code == 201

    stack.compose.down()  # containers and network go; the named volumes stay
    assert stack.compose.containers() == []
    stack.compose.up(UP_TIMEOUT, build=False)

    again = Api(stack.gateway)
    login = again.post("/api/auth/login", json={"email": seller.email,
                                                "password": seller.password})
    assert login.status_code == 200, login.text
    listing = again.get(f"/api/auctions/{auction['id']}")
    assert listing.status_code == 200 and listing.json()["title"] == "Oak chest"
    assert again.live_state(auction["id"]).json()["bid_count"] == 1
    bidder_login = again.post("/api/auth/login", json={"email": bidder.email,
                                                       "password": bidder.password})
    assert bidder_login.status_code == 200, bidder_login.text
    # A token signed after the restart verifies in bidding_service: the key pair survived.
    token = {"Authorization": f"Bearer {bidder_login.json()['access_token']}"}
    state = again.get(f"/api/bids/auctions/{auction['id']}", headers=token).json()
    assert state["you_lead"] is True  # the public state names nobody; the bidder's own does
    mine = again.get("/api/bids/mine", headers=token)
    assert mine.status_code == 200, mine.text
    assert [item["auction_id"] for item in mine.json()["items"]] == [auction["id"]]
