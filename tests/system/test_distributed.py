"""The contract, black-box through the gateway of the local distributed shape."""

from __future__ import annotations

import json
import uuid

import pika
import pytest
import requests

from auction_common.events import EventSchemas
from tests.support.api import Api
from tests.support.waiting import wait_for
from tools.provision import amqp_url
from tools.services import SERVICES

from .flow import Watcher, check_api_docs, run_auction_story

pytestmark = pytest.mark.system


@pytest.fixture
def every_event(stack):
    """A queue on the stack's vhost bound to every event type; returns a drain function."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url(stack.vhost)))
    channel = connection.channel()
    channel.exchange_declare("auction.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "auction.events", routing_key="#")

    def drain() -> list[dict]:
        events = []
        while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
            events.append(json.loads(got[2]))
        return events

    yield drain
    connection.close()


def test_one_auction_goes_all_the_way_through_the_real_architecture(stack, every_event):
    run_auction_story(stack.url)
    events = every_event()
    types = {event["type"] for event in events}
    assert {"user.registered", "auction.created", "bid.placed", "bid.outbid",
            "notification.created"} <= types
    schemas = EventSchemas(*(spec.directory / "event_schemas" for spec in SERVICES))
    for event in events:
        schemas.validate(event)  # a producer emitting what its schema forbids fails here


@pytest.mark.parametrize("prefix", ["/api/auth", "/api/auctions", "/api/bids",
                                    "/api/notifications"])
def test_every_service_is_ready_and_documents_itself_through_the_gateway(stack, prefix):
    ready = requests.get(f"{stack.url}{prefix}/readyz", timeout=10)
    assert ready.status_code == 200
    assert set(ready.json()["checks"].values()) == {"ok"}
    document = requests.get(f"{stack.url}{prefix}/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert any(path.startswith(prefix) for path in document["paths"])


def test_swagger_ui_lists_every_service_s_document_through_the_gateway(stack):
    check_api_docs(stack.url)


def test_unknown_api_paths_answer_the_error_body(stack):
    answer = requests.get(f"{stack.url}/api/auctions/not-a-uuid/nothing", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_every_socketio_process_delivers_each_bid_to_its_own_clients(stack):
    assert len(stack.realtime_urls) >= 2
    api = Api(stack.url)
    seller, ann = api.register("seller"), api.register("ann")
    auction = seller.create_auction(title="Two screens")
    api.wait_until_biddable(auction["id"])
    watchers = [Watcher(url, auction["id"]) for url in stack.realtime_urls]
    try:
        assert ann.bid(auction["id"], 1500).status_code == 201
        for watcher in watchers:
            placed = wait_for(lambda w=watcher: w.of("bid.placed"), message="bid.placed")
            assert placed[0]["seq"] == 1
    finally:
        for watcher in watchers:
            watcher.close()


def test_a_client_that_missed_events_catches_up_from_the_history(stack):
    api = Api(stack.url)
    seller, ann, bob = api.register("seller"), api.register("ann"), api.register("bob")
    auction = seller.create_auction(title="Catch up")
    api.wait_until_biddable(auction["id"])
    ann.bid(auction["id"], 5000)
    bob.bid(auction["id"], 2000)
    history = api.get(f"/api/bids/auctions/{auction['id']}/history?after_seq=1").json()
    assert [(i["seq"], i["current_price"], i["auto"]) for i in history["items"]] == [
        (2, 2000, False), (2, 2050, True)]
    assert history["seq"] == api.live_state(auction["id"]).json()["seq"] == 2


def test_an_oversized_upload_is_refused_by_the_gateway_with_the_error_body(stack):
    answer = requests.post(f"{stack.url}/api/auctions/{uuid.uuid4()}/images",
                           files={"file": ("big.jpg", b"\0" * (13 * 1024 * 1024))}, timeout=30)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_metrics_add_up_every_web_worker(stack):
    for _ in range(5):
        requests.get(f"{stack.url}/api/auctions", timeout=10)
    # Scraped on the process's own port: the gateway does not route them.
    metrics = requests.get(f"http://127.0.0.1:{stack.ports['auction_service']}/metrics",
                           timeout=10).text
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("http_requests_total{") and 'endpoint="/api/auctions"' in line
                  and 'method="GET"' in line)
    assert counted >= 5


def test_a_seller_and_a_bidder_at_the_same_moment_end_consistently_through_the_gateway(stack):
    """Cancel, a higher reserve or a new Buy-It-Now price against a bid, fired together, many
    rounds: bidding decides who came first; the bid's 201 and the seller's 2xx never both
    stand against each other, and the catalog's copy agrees."""
    from .races import seller_and_bidder_race

    first = seller_and_bidder_race(stack.url, rounds=5)
    assert sum(first.values()) == 15
