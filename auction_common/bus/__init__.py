"""The event bus: RabbitMQ in every distributed shape, an in-process bus in the embedded mode.

The package follows its seams: :mod:`.interface` (what a service codes against, including
``replay_dead_letters`` for the CLI, and the delivery policy both buses share),
:mod:`.inprocess` and :mod:`.rabbitmq` (the only module that imports pika). Everything is
re-exported here, so ``from auction_common.bus import ...`` reads the same as before the split.
"""

from __future__ import annotations

from .inprocess import InProcessBus
from .interface import (
    BatchHandler,
    EventBus,
    Handler,
    Subscription,
    counts_as_attempt,
    decode_all,
    deliver_all,
    handle_each,
    retry_delay,
    topic_matches,
)
from .rabbitmq import RabbitBus

__all__ = [
    "BatchHandler",
    "EventBus",
    "Handler",
    "InProcessBus",
    "RabbitBus",
    "Subscription",
    "counts_as_attempt",
    "create_bus",
    "decode_all",
    "deliver_all",
    "handle_each",
    "retry_delay",
    "topic_matches",
]


def create_bus(settings) -> EventBus:
    """The bus named by ``EVENT_BUS``."""
    if settings.event_bus == "inprocess":
        return InProcessBus(max_attempts=settings.consumer_max_attempts)
    return RabbitBus(
        settings.amqp_url,
        exchange=settings.event_exchange,
        prefetch=settings.consumer_prefetch,
        max_attempts=settings.consumer_max_attempts,
        batch_wait=settings.consumer_batch_wait_ms / 1000,
    )
