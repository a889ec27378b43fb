"""The platform's durable queues, declared by every publisher, are exactly what the services'
consumers subscribe to (so that no event type is published before its queue exists)."""

from __future__ import annotations

from auction_common.topology import DURABLE_QUEUES


def test_the_topology_is_what_the_services_consume(users, catalog, bidding, notifications):
    subscribed = {}
    for _, parts in (users, catalog, bidding, notifications):
        for consumer in parts.consumers:
            subscription = consumer.subscription()
            subscribed[subscription.queue] = tuple(sorted(subscription.routing_keys))
    assert subscribed == {name: tuple(sorted(keys)) for name, keys in DURABLE_QUEUES.items()}
