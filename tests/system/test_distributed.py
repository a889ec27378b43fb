"""The contract, black-box through the gateway of the local distributed shape."""

from __future__ import annotations

import json

import pika
import pytest
import requests

from auction_common.events import EventSchemas
from tools.provision import amqp_url
from tools.services import SERVICES

from .flow import run_auction_story

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


def test_unknown_api_paths_answer_the_error_body(stack):
    answer = requests.get(f"{stack.url}/api/auctions/not-a-uuid/nothing", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
