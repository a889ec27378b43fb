"""Grouping concurrent bids on one auction (bidding_service.batching), with real threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bidding_service.batching import KeyedBatcher
from tests.support.waiting import wait_for


class Recorder:
    """A ``run`` that blocks its first group until released, and records every group."""

    def __init__(self):
        self.groups: list[tuple[str, list[int]]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail_on: set[int] = set()

    def __call__(self, key, items):
        if not self.first_started.is_set():
            self.first_started.set()
            assert self.release.wait(10)
        self.groups.append((key, list(items)))
        if self.fail_on & set(items):
            raise ValueError(f"refused {sorted(self.fail_on & set(items))}")


def test_a_lone_request_runs_alone_at_once():
    recorder = Recorder()
    recorder.release.set()
    KeyedBatcher(recorder).submit("a", 1)
    assert recorder.groups == [("a", [1])]


def storm(batcher: KeyedBatcher, recorder: Recorder, items: int) -> list[str]:
    """Item 0 starts a group on key "a" and is held there while items 1.. queue up behind it,
    one after the other; then everything runs. Each item's outcome: "ok" or "refused"."""
    outcomes = []
    with ThreadPoolExecutor(items) as pool:
        futures = [pool.submit(batcher.submit, "a", 0)]
        assert recorder.first_started.wait(10)
        for item in range(1, items):
            futures.append(pool.submit(batcher.submit, "a", item))
            wait_for(lambda n=item: len(batcher._waiting["a"]) == n, interval=0.001)
        recorder.release.set()
        for future in futures:
            try:
                future.result(timeout=10)
                outcomes.append("ok")
            except ValueError:
                outcomes.append("refused")
    return outcomes


def test_requests_arriving_during_a_group_run_together_next_in_arrival_order():
    recorder = Recorder()
    assert storm(KeyedBatcher(recorder), recorder, 6) == ["ok"] * 6
    assert recorder.groups == [("a", [0]), ("a", [1, 2, 3, 4, 5])]


def test_other_keys_do_not_wait_for_a_busy_one():
    recorder = Recorder()
    batcher = KeyedBatcher(recorder)
    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(batcher.submit, "a", 0)
        assert recorder.first_started.wait(10)
        batcher.submit("b", 1)  # returns while "a" is still running
        assert ("b", [1]) in recorder.groups
        recorder.release.set()
        busy.result(timeout=10)


def test_groups_are_capped_and_the_rest_follow():
    recorder = Recorder()
    storm(KeyedBatcher(recorder, max_batch=2), recorder, 6)
    assert [items for _, items in recorder.groups] == [[0], [1, 2], [3, 4], [5]]


def test_a_failing_group_fails_its_requests_only_and_the_next_group_still_runs():
    recorder = Recorder()
    recorder.fail_on = {1}
    batcher = KeyedBatcher(recorder, max_batch=2)
    assert storm(batcher, recorder, 4) == ["ok", "refused", "refused", "ok"]
    assert "a" not in batcher._waiting, "an idle key leaves nothing behind"


@pytest.mark.parametrize("threads", [16])
def test_many_threads_each_run_exactly_once(threads):
    seen: list[int] = []
    lock = threading.Lock()

    def run(key, items):
        with lock:
            seen.extend(items)

    batcher = KeyedBatcher(run)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: batcher.submit(i % 3, i), range(2000)))
    assert sorted(seen) == list(range(2000))
    assert batcher._waiting == {}


@pytest.mark.parametrize("kill_when", ["waiting", "handed_the_lead"])
def test_a_request_that_goes_away_while_waiting_never_leaves_its_auction_stuck(
        monkeypatch, kill_when):
    """A web process under gevent: a waiting request's greenlet is killed (its client went
    away), either while it queues or just as the lead is handed to it; the others still get
    their answers, and the next bid on that auction is decided at once."""
    import gevent
    import gevent.event

    from bidding_service import batching

    monkeypatch.setattr(batching.threading, "Event", gevent.event.Event)
    release, ran = gevent.event.Event(), []

    def run(key, items):
        if 0 in items:
            release.wait(5)
        ran.append(list(items))

    batcher = KeyedBatcher(run)
    first = gevent.spawn(batcher.submit, "a", 0)
    gevent.sleep(0)
    leaving = gevent.spawn(batcher.submit, "a", 1)
    staying = gevent.spawn(batcher.submit, "a", 2)
    gevent.sleep(0)
    assert len(batcher._waiting["a"]) == 2
    if kill_when == "waiting":
        leaving.kill()
        release.set()
    else:
        release.set()
        first.join(5)
        leaving.kill()
    assert staying.join(5) is None and staying.dead and staying.successful()
    assert first.successful()
    assert [2] in ran or [1, 2] in ran
    assert "a" not in batcher._waiting  # the auction is free again
    later = gevent.spawn(batcher.submit, "a", 3)
    later.join(5)
    assert later.successful() and ran[-1] == [3]
