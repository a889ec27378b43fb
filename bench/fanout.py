"""``python -m bench.fanout``: one bid stream watched by 100, 1,000 and 5,000 Socket.IO clients.

Starts the local distributed shape, connects the watchers (asyncio clients over websocket,
spread over worker processes) to the gateway, places a stream of bids, and measures, for every
delivery, the time from the bid's placement under the row lock (``placed_at``, the database's
clock, a little before its commit) to the client's receipt, split into the pipeline (outbox,
relay, RabbitMQ, to the Socket.IO process's emit: ``server_time``) and the fan-out (emit to
receipt). Writes bench/results/fanout.{json,md}.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.support.api import Api
from tools import provision
from tools.services import ROOT
from tools.stack import Stack, _local_postgres, free_port

RESULTS = ROOT / "bench" / "results"
WATCHERS = [int(n) for n in os.environ.get("BENCH_WATCHERS", "100,1000,5000").split(",")]
BIDS = int(os.environ.get("BENCH_BIDS", "20"))
BID_INTERVAL = float(os.environ.get("BENCH_BID_INTERVAL", "0.25"))
PROCESSES = 2
REALTIME = int(os.environ.get("BENCH_REALTIME", "2"))  # Socket.IO processes


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def _watch(url: str, auction_id: str, count: int, ready, done, out: list) -> None:
    import socketio

    clients = []

    async def one() -> None:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("bid.placed")
        async def _placed(data):
            now = time.time()
            out.append((now - _seconds(data["placed_at"]), _seconds(data["server_time"])
                        - _seconds(data["placed_at"]), now - _seconds(data["server_time"])))

        await client.connect(url, transports=["websocket"], wait_timeout=60)
        await client.call("watch", {"auction_id": auction_id}, timeout=60)
        clients.append(client)

    for start in range(0, count, 100):  # connect in waves, not all at once
        await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    ready.set()
    while not done.is_set():
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


def _watcher_process(url, auction_id, count, ready, done, queue) -> None:
    out: list = []
    asyncio.run(_watch(url, auction_id, count, ready, done, out))
    queue.put(out)


def run(stack: Stack, api: Api, watchers: int) -> dict:
    """One scenario: ``watchers`` clients, a stream of ``BIDS`` bids."""
    seller, ann, bob = api.register("seller"), api.register("ann"), api.register("bob")
    auction = seller.create_auction(seconds=3600, starting_price=100, anti_sniping_seconds=0)
    api.wait_until_biddable(auction["id"])
    queue: mp.Queue = mp.Queue()
    done = mp.Event()
    share = [watchers // PROCESSES + (i < watchers % PROCESSES) for i in range(PROCESSES)]
    readies, workers = [], []
    # Browsers come from many addresses, which the gateway's sticky hash spreads over the
    # realtime processes; all of ours share one address, so each worker process connects to
    # one instance directly instead.
    targets = stack.realtime_urls if REALTIME > 1 else [stack.url]
    for index, count in enumerate(share):
        ready = mp.Event()
        worker = mp.Process(target=_watcher_process,
                            args=(targets[index % len(targets)], auction["id"], count, ready,
                                  done, queue))
        worker.start()
        readies.append(ready)
        workers.append(worker)
    for ready in readies:
        if not ready.wait(300):
            raise RuntimeError("watchers did not connect in time")
    amount = 100
    # Our watchers are Python clients on the same two cores: give thousands of them time to
    # read each bid, so that the figures measure delivery, not a backlog in the watchers.
    interval = max(BID_INTERVAL, watchers / 2500)
    for i in range(BIDS):
        amount += 10_000
        answer = (ann if i % 2 else bob).bid(auction["id"], amount)
        assert answer.status_code == 201, answer.text
        time.sleep(interval)  # the pace of the bid stream, not a wait for a result
    time.sleep(2.0)
    done.set()
    samples = [sample for _ in workers for sample in queue.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=60)
    total = [s[0] * 1000 for s in samples]
    pipeline = [s[1] * 1000 for s in samples]
    fan = [s[2] * 1000 for s in samples]

    def pct(values, fraction):
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)

    return {
        "watchers": watchers, "bids": BIDS, "deliveries": len(samples),
        "expected_deliveries": watchers * BIDS,
        "p50_ms": round(statistics.median(total), 1), "p99_ms": pct(total, 0.99),
        "max_ms": round(max(total), 1),
        "pipeline_p50_ms": round(statistics.median(pipeline), 1),
        "pipeline_p99_ms": pct(pipeline, 0.99),
        "fanout_p50_ms": round(statistics.median(fan), 1), "fanout_p99_ms": pct(fan, 0.99),
    }


def main() -> None:
    """Every scenario, printed and saved."""
    run_id = uuid.uuid4().hex[:8]
    state = ROOT / "var" / f"bench-{run_id}"
    admin = _local_postgres(state)
    stack = Stack(state, gateway_port=free_port(), admin_database_url=admin,
                  database=f"bench_{run_id}", vhost=f"bench_{run_id}", realtime_instances=REALTIME,
                  extra_env={"RATE_LIMIT_PER_IP": "100000/minute"})
    print("starting the local distributed shape ...", flush=True)
    stack.start()
    rows = []
    try:
        api = Api(stack.url)
        for watchers in WATCHERS:
            row = run(stack, api, watchers)
            rows.append(row)
            print(f"{watchers:>5} watchers: commit->client p50 {row['p50_ms']} ms, p99 "
                  f"{row['p99_ms']} ms (pipeline p99 {row['pipeline_p99_ms']} ms, fan-out p99 "
                  f"{row['fanout_p99_ms']} ms); {row['deliveries']}/{row['expected_deliveries']}"
                  " delivered", flush=True)
    finally:
        stack.stop()
        provision.drop_database(admin, stack.database)
        provision.delete_rabbitmq_vhost(stack.vhost)
    save(rows)


def save(rows: list[dict]) -> None:
    """bench/results/fanout.json and a markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"when": datetime.now(UTC).isoformat(), "bids_per_scenario": BIDS,
            "realtime_processes": REALTIME, "watcher_processes": PROCESSES,
            "bid_interval_s": BID_INTERVAL, "cpus": os.cpu_count(),
            "note": "watchers, load and servers share the machine"}
    (RESULTS / "fanout.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = ["| watchers | delivered | p50 ms | p99 ms | pipeline p99 ms | fan-out p99 ms |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['watchers']} | {r['deliveries']}/{r['expected_deliveries']} | {r['p50_ms']}"
              f" | {r['p99_ms']} | {r['pipeline_p99_ms']} | {r['fanout_p99_ms']} |" for r in rows]
    Path(RESULTS / "fanout.md").write_text(
        f"# Fan-out ({meta['when']}, {BIDS} bids per scenario, {REALTIME} Socket.IO "
        f"processes, {meta['cpus']} CPUs shared with the watchers)\n\n"
        + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
