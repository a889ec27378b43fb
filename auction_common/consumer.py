"""Idempotent consumers: the effect and the event id are committed together (the inbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Mapping

from .bus import Subscription, handle_each
from .db import Database, UnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, dict], None]
#: A handler that applies several events of its type at once (see :func:`applies_in_batches`).
RunHandler = Callable[[UnitOfWork, list[dict]], None]
#: Per event type, one handler or several (applied in order, in one transaction).
HandlerMap = Mapping[str, EventHandler | Iterable[EventHandler]]


def handlers_by_type(*maps: HandlerMap) -> dict[str, tuple[EventHandler, ...]]:
    """Several handler maps as one: every handler of a type is kept, in the order given.

    Merging dicts instead (``{**a, **b}``) keeps only the last handler of a type that two maps
    share, silently; a consumer built from several features' maps must run them all."""
    combined: dict[str, tuple[EventHandler, ...]] = {}
    for handlers in maps:
        for event_type, chosen in handlers.items():
            more = (chosen,) if callable(chosen) else tuple(chosen)
            if more:  # a type with no handler is not consumed at all (nor bound, nor claimed)
                combined[event_type] = combined.get(event_type, ()) + more
    return combined


def applies_in_batches(handler: RunHandler) -> RunHandler:
    """Mark ``handler`` as taking a list of events of its type (``handler(uow, events)``)
    instead of one: a consumer hands it each run of consecutive events of that type that
    arrived together, in arrival order, so that it can apply them in a few statements instead
    of a few per event. A single event comes as a list of one."""
    handler.applies_in_batches = True
    return handler


def _runs(envelopes: list[dict]) -> list[list[dict]]:
    """Maximal runs of consecutive events of one type, in order (so that events of different
    types keep their relative order)."""
    runs: list[list[dict]] = []
    for envelope in envelopes:
        if runs and runs[-1][0]["type"] == envelope["type"]:
            runs[-1].append(envelope)
        else:
            runs.append([envelope])
    return runs


class IdempotentConsumer:
    """Applies each event at most once per consumer name, whatever the broker redelivers."""

    def __init__(self, db: Database, name: str, handlers: HandlerMap,
                 snapshots: dict[str, Callable[[dict], Hashable]] | None = None):
        """``handlers``: per event type, a handler or a list of them (see
        :func:`handlers_by_type` to build one map from several). ``snapshots``: event types
        whose events each carry the whole state of something (named by the function, e.g.
        the auction) with an increasing ``data.seq``; of several such events in one batch,
        only the newest per thing is applied (all are claimed)."""
        self.db = db
        self.name = name
        self.handlers = handlers_by_type(handlers)
        self.snapshots = snapshots or {}

    def __call__(self, envelope: dict) -> None:
        handlers = self.handlers.get(envelope["type"])
        if handlers is None:
            return
        with self.db.unit_of_work() as uow:
            if not uow.claim_event(self.name, envelope["id"]):
                log.info("duplicate event skipped", extra={"event_id": envelope["id"]})
                return
            self._apply(uow, handlers, [envelope])
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
                applied = []
                for envelope in wanted:
                    if envelope["id"] in fresh:
                        fresh.discard(envelope["id"])  # delivered twice in one batch: once
                        if envelope["id"] not in superseded:
                            applied.append(envelope)
                for run in _runs(applied):
                    self._apply(uow, self.handlers[run[0]["type"]], run)
                uow.commit()
            return [None] * len(envelopes)
        except Exception:
            log.warning("a batch of events failed; applying them one by one", exc_info=True,
                        extra={"consumer": self.name, "events": len(envelopes)})
        return handle_each(self, envelopes)

    @staticmethod
    def _apply(uow: UnitOfWork, handlers: tuple[EventHandler, ...], run: list[dict]) -> None:
        """Apply a run of events of one type: each event through every handler in order, or,
        when some handler takes batches, handler by handler over the whole run."""
        if not any(getattr(handler, "applies_in_batches", False) for handler in handlers):
            for envelope in run:
                for handler in handlers:
                    handler(uow, envelope)
            return
        for handler in handlers:
            if getattr(handler, "applies_in_batches", False):
                handler(uow, run)
            else:
                for envelope in run:
                    handler(uow, envelope)

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
