"""Idempotent consumers: the effect and the event id are committed together (the inbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .bus import Subscription
from .db import Database, UnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, dict], None]


class IdempotentConsumer:
    """Applies each event at most once per consumer name, whatever the broker redelivers."""

    def __init__(self, db: Database, name: str, handlers: dict[str, EventHandler]):
        self.db = db
        self.name = name
        self.handlers = handlers

    def __call__(self, envelope: dict) -> None:
        handler = self.handlers.get(envelope["type"])
        if handler is None:
            return
        with self.db.unit_of_work() as uow:
            if not uow.claim_event(self.name, envelope["id"]):
                log.info("duplicate event skipped", extra={"event_id": envelope["id"]})
                return
            handler(uow, envelope)
            uow.commit()

    def subscription(self) -> Subscription:
        """The durable queue this consumer reads: named after it, bound to its event types."""
        return Subscription(queue=self.name, routing_keys=sorted(self.handlers), handler=self)
