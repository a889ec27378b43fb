"""The platform's durable queues, declared by every publisher, are exactly what the services'
consumers subscribe to (so that no event type is published before its queue exists)."""

from __future__ import annotations

from auction_common.topology import DURABLE_QUEUES, durably_consumed


def test_the_topology_is_what_the_services_consume():
    from auction_service.consumers import read_model_consumer
    from bidding_service.consumers import catalog_consumer, users_consumer
    from notification_service.consumers import notification_consumer

    consumers = [read_model_consumer(None), catalog_consumer(None), users_consumer(None),
                 notification_consumer(None, "http://localhost")]
    subscribed = {c.name: tuple(sorted(c.subscription().routing_keys)) for c in consumers}
    assert subscribed == {name: tuple(sorted(keys)) for name, keys in DURABLE_QUEUES.items()}


def test_every_event_but_the_realtime_only_one_has_a_durable_consumer():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    types = {path.name.split(".v")[0] for path in root.glob("*/event_schemas/*.json")}
    assert {t for t in types if not durably_consumed(t)} == {"notification.created"}
