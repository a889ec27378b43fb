"""Idempotent consumers: the effect and the event id are committed together (the inbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from .bus import Subscription, handle_each
from .db import Database, UnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, dict], None]


class IdempotentConsumer:
    """Applies each event at most once per consumer name, whatever the broker redelivers."""

    def __init__(self, db: Database, name: str, handlers: dict[str, EventHandler],
                 snapshots: dict[str, Callable[[dict], Hashable]] | None = None):
        """``snapshots``: event types whose events each carry the whole state of something
        (named by the function, e.g. the auction) with an increasing ``data.seq``; of several
        such events in one batch, only the newest per thing is applied (all are claimed)."""
        self.db = db
        self.name = name
        self.handlers = handlers
        self.snapshots = snapshots or {}

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

    def handle_batch(self, envelopes: list[dict]) -> list[Exception | None]:
        """Apply events that arrived together in ONE transaction (one claim, one commit); if
        that fails, apply them one by one, so that only the failing ones are retried. Returns
        each event's error or None."""
        try:
            with self.db.unit_of_work() as uow:
                wanted = [e for e in envelopes if e["type"] in self.handlers]
                fresh = uow.claim_events(self.name, [e["id"] for e in wanted])
                superseded = self._superseded([e for e in wanted if e["id"] in fresh])
                for envelope in wanted:
                    if envelope["id"] in fresh:
                        fresh.discard(envelope["id"])  # delivered twice in one batch: once
                        if envelope["id"] not in superseded:
                            self.handlers[envelope["type"]](uow, envelope)
                uow.commit()
            return [None] * len(envelopes)
        except Exception:
            log.warning("a batch of events failed; applying them one by one", exc_info=True,
                        extra={"consumer": self.name, "events": len(envelopes)})
        return handle_each(self, envelopes)

    def _superseded(self, envelopes: list[dict]) -> set[str]:
        """Ids of snapshot events that a newer one of the same type and thing replaces."""
        newest: dict[tuple, dict] = {}
        for envelope in envelopes:
            thing = self.snapshots.get(envelope["type"])
            if thing is not None:
                key = (envelope["type"], thing(envelope))
                if key not in newest or newest[key]["data"]["seq"] < envelope["data"]["seq"]:
                    newest[key] = envelope
        kept = {envelope["id"] for envelope in newest.values()}
        return {e["id"] for e in envelopes if e["type"] in self.snapshots and e["id"] not in kept}

    def subscription(self) -> Subscription:
        """The durable queue this consumer reads: named after it, bound to its event types."""
        return Subscription(queue=self.name, routing_keys=sorted(self.handlers), handler=self,
                            batch_handler=self.handle_batch)
