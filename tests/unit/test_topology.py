"""Every event type but the realtime-only one has a durable queue in the platform's topology
(``tests/service/test_topology.py`` checks the table against the services' consumers)."""

from __future__ import annotations

from auction_common.topology import durably_consumed


def test_every_event_but_the_realtime_only_one_has_a_durable_consumer():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    types = {path.name.split(".v")[0] for path in root.glob("*/event_schemas/*.json")}
    assert {t for t in types if not durably_consumed(t)} == {"notification.created"}
