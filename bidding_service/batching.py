"""Group concurrent work on the same key into one call (flat combining with hand-off).

The bid path uses one key per web process (``handlers.ALL_BIDS``): bids that reach a process
while one group of its bids is inside its transaction wait here instead of each opening a
transaction of its own, and are then decided together, in arrival order, in the next one:
one round trip to lock every auction they bid on (in the order of their ids), one write, one
commit (one fsync) for the whole group. On a hot auction this is what lets its row lock,
which serializes its bids, carry many bids per hold; spread over many auctions it saves every
transaction's fixed cost. Each request still waits for the commit that makes its bid durable.

Each auction's row lock stays the one serialization point for its bids: this only decides how
many bids each lock hold carries. Nothing runs in the background: the first request to find a
key idle leads (runs the group), and hands the lead to the oldest waiter when it is done.
Works with threads and, once monkey-patched, with gevent's greenlets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")


class _Slot(Generic[Item]):
    __slots__ = ("item", "done", "batch", "error")

    def __init__(self, item: Item):
        self.item = item
        self.done = threading.Event()
        #: Set (before ``done``) when this slot must run the next group.
        self.batch: list[_Slot[Item]] | None = None
        self.error: BaseException | None = None


class KeyedBatcher(Generic[Item]):
    """Run ``run(key, items)`` for groups of items submitted concurrently under one key.

    Groups for one key never overlap and keep arrival order; groups for different keys run
    independently. ``run`` records its results on the items; if it raises, every item of the
    group sees that error."""

    def __init__(self, run: Callable[[Hashable, Sequence[Item]], None], max_batch: int = 64):
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        #: key -> slots waiting for the group in progress under that key to finish.
        self._waiting: dict[Hashable, list[_Slot[Item]]] = {}

    def submit(self, key: Hashable, item: Item) -> None:
        """Return once ``item`` has been run (alone or with others); re-raise the group's error."""
        slot = _Slot(item)
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is None:
                self._waiting[key] = []
                slot.batch = [slot]
            else:
                waiting.append(slot)
        if slot.batch is None:
            try:
                slot.done.wait()
            except BaseException:  # the request went away (greenlet killed, interrupt)
                self._abandon(key, slot)
                raise
        if slot.batch is not None:
            self._lead(key, slot.batch)
        if slot.error is not None:
            raise slot.error

    def _abandon(self, key: Hashable, slot: _Slot[Item]) -> None:
        """A waiting request went away: its item is not run, and if the lead had just been
        handed to it, the lead passes on (to the next of its group, or to whoever waits), so
        that the key never stays busy with nobody to run it."""
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is not None and slot in waiting:
                waiting.remove(slot)
                return
            batch = slot.batch
            if batch is None:
                return  # its group already ran: nothing is left to hand on
            slot.batch = None
            rest = [other for other in batch if other is not slot]
            if not rest:
                waiting = self._waiting[key]
                if waiting:
                    rest = waiting[: self._max_batch]
                    self._waiting[key] = waiting[self._max_batch:]
                else:
                    del self._waiting[key]
                    return
            rest[0].batch = rest
        rest[0].done.set()

    def _lead(self, key: Hashable, batch: list[_Slot[Item]]) -> None:
        try:
            self._run(key, [slot.item for slot in batch])
        except Exception as error:  # handed to every request of the group
            for slot in batch:
                slot.error = error
        except BaseException:  # the leader itself was stopped (greenlet killed, interrupt)
            for slot in batch[1:]:
                slot.error = RuntimeError("the request deciding this group was interrupted")
            raise
        finally:
            with self._lock:
                waiting = self._waiting[key]
                if waiting:
                    following = waiting[: self._max_batch]
                    self._waiting[key] = waiting[self._max_batch:]
                    following[0].batch = following
                else:
                    del self._waiting[key]
                    following = None
            for slot in batch:
                slot.batch = None
                slot.done.set()
            if following is not None:
                following[0].done.set()
