"""The platform's durable queues and the event types each one binds.

Every process that publishes declares all of them (with their retry and dead-letter queues)
before its first publish, so an event is never published before its consumers' queues exist
(a fresh broker or vhost, a consumer not started yet), and a publish of these types that
reaches no queue fails instead of counting as sent (the outbox keeps it). This is wiring data,
not code of any service: ``tests/unit/test_topology.py`` checks that it is exactly what the
services' consumers subscribe to. Real-time fan-out queues are private to each realtime
process and not listed: an event only they take (``notification.created``) may reach nobody.
"""

from __future__ import annotations

DURABLE_QUEUES: dict[str, tuple[str, ...]] = {
    "auction_service.accounts": ("user.registered", "user.updated"),
    "auction_service.read_model": ("auction.ended", "auction.extended", "bid.placed"),
    "bidding_service.catalog": ("auction.cancelled", "auction.created", "auction.updated"),
    "bidding_service.users": ("user.registered", "user.updated"),
    "notification_service.accounts": ("user.registered", "user.updated"),
    "notification_service.password_resets": ("user.password_reset_requested",),
    "notification_service.notify": (
        "auction.cancelled", "auction.ended", "auction.extended", "auction.unwatched",
        "auction.updated", "auction.watched", "bid.outbid", "user.registered", "user.updated",
    ),
}


def durably_consumed(event_type: str,
                     queues: dict[str, tuple[str, ...]] = DURABLE_QUEUES) -> bool:
    """Whether some durable queue binds ``event_type`` (so publishing it must reach one)."""
    return any(event_type in keys for keys in queues.values())
