"""``python -m bench.publish OTHER_CHECKOUT``: what moving an event costs, paired A/B.

The part of the pipeline between a committed outbox row and the consumers: the outbox relay
(``OutboxRelay.run``, woken by NOTIFY), RabbitMQ, and the consumers' side of the protocol
(``RabbitBus`` consuming with do-nothing handlers, so no database work is counted). A RabbitMQ
node of the bench's own (``tests.support.faults.PrivateRabbit``: own port and data directory,
so that its CPU is ours alone) serves two sides, this checkout and ``OTHER_CHECKOUT`` (e.g.
``/work/main``), each with its own exchange, queues, scratch database, relay process and
consumer process, all of that side's code. The sides take turns: for ``BENCH_SECONDS`` (3) a
committer here commits "bids" at a fixed rate into that side's outbox, each one transaction
with a ``bid.placed`` and a ``bid.outbid`` and its NOTIFY, as a bid spread over many auctions
does; then waits until every delivery arrived. The queues are the stack's shape: ``bid.placed``
to a durable batch consumer (the read model's), ``bid.outbid`` to another (the notification
worker's), both to a transient queue consumed event by event (realtime's).

Per event: CPU of the relay process, of the RabbitMQ node and of the consumer process
(psutil), the relay's mean batch, and the transient queue's delivery latency from commit.
``BENCH_PAIRS`` (6) pairs per rate (``BENCH_RATES`` bids/s, "20,100"), the order alternating;
the median of each side and of the paired ratios (this / other) with their range. Writes
bench/results/publish.{json,md}.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

PAIRS = int(os.environ.get("BENCH_PAIRS", "6"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "20,100").split(",")]
ADMIN = os.environ.get("BENCH_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
FIGURES = ("relay_ms", "rabbitmq_ms", "consumers_ms", "total_ms", "mean_batch", "p50_ms",
           "p99_ms")
REALTIME_KEYS = ["bid.placed", "bid.outbid"]


def topology(side: str) -> dict[str, tuple[str, ...]]:
    """A side's durable queues, shaped like the stack's for these two event types."""
    return {f"bench_{side}.read_model": ("bid.placed",), f"bench_{side}.notify": ("bid.outbid",)}


def bus_for(side: str, url: str):
    """The side's RabbitBus as the services build it (prefetch 32, batch wait 20 ms)."""
    from auction_common.bus import RabbitBus

    return RabbitBus(url, exchange=f"bench_{side}.events", prefetch=32, batch_wait=0.02,
                     topology=topology(side))


def relay_worker(side: str, url: str) -> None:
    """A scratch database and the side's relay running on it until stdin closes; answers a
    ``batches`` line with the number of publishes since the last one."""
    from auction_common.db import Database, create_db_engine
    from auction_common.migrations import upgrade
    from auction_common.relay import OutboxRelay
    from bidding_service.models import metadata
    from tools import provision
    from tools.services import SERVICES

    name = "bench_pub_" + uuid.uuid4().hex[:8]
    provision.ensure_database(ADMIN, name)
    database_url = provision.service_urls(ADMIN, name)["bidding_service"]
    try:
        spec = next(s for s in SERVICES if s.package == "bidding_service")
        upgrade(spec.directory, database_url)
        engine = create_db_engine(database_url, pool_size=2)
        bus = bus_for(side, url)
        publishes = [0]
        publish = bus.publish

        def counted(envelopes):
            # Not the empty publish a relay may open each batch with (to connect first).
            publishes[0] += 1 if envelopes else 0
            publish(envelopes)

        bus.publish = counted
        # As the side's workers run it: with its RELAY_BATCH_WAIT_MS default, where it has one.
        from auction_common.settings import CommonSettings

        wait = CommonSettings.model_fields.get("relay_batch_wait_ms")
        relay = OutboxRelay(Database(engine, metadata, "bidding", schemas=None), bus,
                            **({"batch_wait": wait.default / 1000} if wait else {}))
        stopping = threading.Event()
        thread = threading.Thread(target=relay.run, args=(stopping,), daemon=True)
        thread.start()
        print("ready", database_url, flush=True)
        for line in sys.stdin:
            if line.strip() == "batches":
                print(publishes[0], flush=True)
                publishes[0] = 0
        stopping.set()
        thread.join(timeout=10)
        bus.stop()
        engine.dispose()
    finally:
        provision.drop_database(ADMIN, name)


def consumer_worker(side: str, url: str) -> None:
    """The side's consumers; answers a ``report`` line with what arrived since the last one
    (deliveries, and the transient queue's latencies from commit in ms)."""
    from auction_common.bus import Subscription

    bus = bus_for(side, url)
    lock, received, latencies = threading.Lock(), [0], []

    def batch(envelopes):
        with lock:
            received[0] += len(envelopes)
        return [None] * len(envelopes)

    def one(envelope):
        now = datetime.now(UTC)
        with lock:
            received[0] += 1
            latencies.append((now - datetime.fromisoformat(envelope["occurred_at"]))
                             .total_seconds() * 1000)

    for queue, keys in topology(side).items():
        bus.subscribe(Subscription(queue, list(keys), lambda e: batch([e]), batch_handler=batch))
    bus.subscribe(Subscription(f"bench_{side}.realtime", REALTIME_KEYS, one, transient=True))
    bus.start()
    for event in bus.ready.values():
        event.wait(30)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "report":
            with lock:
                print(json.dumps({"received": received[0], "latencies": latencies[:]}),
                      flush=True)
                received[0] = 0
                latencies.clear()
    bus.stop()


def bid_events(n: int) -> list[dict]:
    """What a bid spread over many auctions publishes: its ``bid.placed`` and the displaced
    leader's ``bid.outbid`` (the fields of ``bidding_service.handlers._publish_bid``)."""
    auction, now = str(uuid.uuid4()), datetime.now(UTC).isoformat()
    common = {"auction_id": auction, "seq": n, "currency": "EUR", "current_price": 10_000 + n,
              "min_next_bid": 10_100 + n, "ends_at": now, "buy_now_available": False}
    placed = {**common, "bid_id": str(uuid.uuid4()), "bid_count": n,
              "leader_id": str(uuid.uuid4()), "leader_name": "j***e", "reserve_met": True,
              "placed_at": now}
    outbid = {**common, "user_id": str(uuid.uuid4()), "title": "Vintage brass telescope"}
    return [{"id": str(uuid.uuid4()), "type": kind, "version": 1, "occurred_at": now,
             "producer": "bidding_service", "data": data}
            for kind, data in (("bid.placed", placed), ("bid.outbid", outbid))]


def commit_bids(engine, rate: int, seconds: float) -> int:
    """Commit ``rate`` bids a second for ``seconds``, each its own transaction with its
    NOTIFY, as ``UnitOfWork`` writes them; returns how many events."""
    from sqlalchemy import text

    statement = text(
        "INSERT INTO bidding.outbox (id, type, payload) SELECT (e->>'id')::uuid, e->>'type', e "
        "FROM jsonb_array_elements(CAST(:events AS jsonb)) AS e; "
        "SELECT pg_notify('outbox_bidding', '')")
    started, n = time.monotonic(), 0
    while (due := started + n / rate) < started + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        with engine.begin() as conn:
            conn.execute(statement, {"events": json.dumps(bid_events(n))})
        n += 1
    return 2 * n


class Side:
    """One checkout's relay and consumer processes, database and CPU readings."""

    def __init__(self, label: str, checkout: Path, url: str, beam):
        from sqlalchemy import create_engine

        env = {**os.environ, "PYTHONPATH": str(checkout)}
        self.label, self.beam = label, beam
        self.relay, self.consumer = (subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), role, label, url], cwd=checkout,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for role in ("--relay", "--consume"))
        ready, database_url = self.relay.stdout.readline().split()
        if ready != "ready" or self.consumer.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {label} side did not start")
        self.engine = create_engine(database_url)

    def ask(self, process, line: str) -> str:
        process.stdin.write(line + "\n")
        process.stdin.flush()
        return process.stdout.readline()

    def cpu(self) -> dict[str, float]:
        import psutil

        def seconds(pid):
            times = psutil.Process(pid).cpu_times()
            return times.user + times.system

        return {"relay": seconds(self.relay.pid), "consumers": seconds(self.consumer.pid),
                "rabbitmq": seconds(self.beam.pid)}

    def turn(self, rate: int) -> dict:
        """Commit at ``rate`` for SECONDS, wait for every delivery; the figures per event."""
        self.ask(self.consumer, "report")
        self.ask(self.relay, "batches")
        before = self.cpu()
        events = commit_bids(self.engine, rate, SECONDS)
        expected, received, latencies = 2 * events, 0, []  # each event reaches two queues
        deadline = time.monotonic() + 60
        while received < expected and time.monotonic() < deadline:
            time.sleep(0.1)
            report = json.loads(self.ask(self.consumer, "report"))
            received += report["received"]
            latencies += report["latencies"]
        after = self.cpu()
        if received != expected:
            raise SystemExit(f"{self.label}: {received} of {expected} deliveries arrived")
        used = {k: (after[k] - before[k]) * 1000 / events for k in after}
        latencies.sort()
        return {"relay_ms": used["relay"], "rabbitmq_ms": used["rabbitmq"],
                "consumers_ms": used["consumers"], "total_ms": sum(used.values()),
                "mean_batch": events / max(1, int(self.ask(self.relay, "batches"))),
                "p50_ms": latencies[len(latencies) // 2],
                "p99_ms": latencies[int(len(latencies) * 0.99)]}

    def close(self) -> None:
        for process in (self.relay, self.consumer):
            process.stdin.close()
        for process in (self.relay, self.consumer):
            process.wait(timeout=60)
        self.engine.dispose()


def main() -> None:
    """Start the node and both sides, alternate them ``PAIRS`` times per rate, save."""
    import psutil

    from tests.support.faults import PrivateRabbit

    here = Path(__file__).resolve().parent.parent
    if len(sys.argv) != 2 or Path(sys.argv[1]).resolve() == here:
        raise SystemExit("usage: python -m bench.publish OTHER_CHECKOUT")
    checkouts = {"this": here, "other": Path(sys.argv[1]).resolve()}
    base = Path(tempfile.mkdtemp(prefix="bench_publish_"))
    rabbit = PrivateRabbit(base)
    rabbit.start()
    sides: dict[str, Side] = {}
    runs: dict[str, dict[str, list[dict]]] = {str(r): {k: [] for k in checkouts} for r in RATES}
    try:
        beam = next(p for p in psutil.Process(rabbit.process.pid).children(recursive=True)
                    if "beam" in p.name())
        for label, path in checkouts.items():
            sides[label] = Side(label, path, rabbit.url, beam)
        for pair in range(PAIRS):
            for rate in RATES:
                for label in (("this", "other") if pair % 2 == 0 else ("other", "this")):
                    runs[str(rate)][label].append(sides[label].turn(rate))
                    print(rate, label, json.dumps({k: round(v, 3) for k, v in
                                                   runs[str(rate)][label][-1].items()}),
                          flush=True)
    finally:
        for side in sides.values():
            side.close()
        rabbit.stop()
        shutil.rmtree(base, ignore_errors=True)
    report(runs, checkouts)


def report(runs: dict[str, dict[str, list[dict]]], checkouts: dict[str, Path]) -> None:
    """Print and save the medians and the paired ratios."""
    # Here, not at the top: the workers run this file on the other checkout's path.
    from bench.paired import checkouts_named, paired_table, paired_title, run_meta, save_paired

    summary, lines = paired_table(runs, FIGURES, ("bids/s", "figure (per event)"),
                                  spread="range")
    commits = {k: subprocess.run(["git", "-C", str(v), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip() or "?"
               for k, v in checkouts.items()}
    meta = run_meta(pairs=PAIRS, seconds=SECONDS,
                    checkouts={k: f"{v} ({commits[k]})" for k, v in checkouts.items()})
    save_paired(
        "publish", meta, summary, runs,
        paired_title("Relaying an event", meta,
                     f"{PAIRS} pairs of {SECONDS:g} s turns per rate"),
        "Outbox relay → private RabbitMQ node → consumers with do-nothing handlers; each bid "
        "is one transaction with a `bid.placed` and a `bid.outbid`; "
        + checkouts_named(meta)
        + ". CPU in ms per event (relay process, the RabbitMQ node, the consumer process), "
        "the relay's mean batch (events per publish), and the transient queue's latency "
        "from commit; medians of the turns, and the median of the paired ratios (this / "
        "other) with their range.", lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--relay"]:
        relay_worker(*sys.argv[2:4])
    elif sys.argv[1:2] == ["--consume"]:
        consumer_worker(*sys.argv[2:4])
    else:
        main()
