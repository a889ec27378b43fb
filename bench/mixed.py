"""``python -m bench.mixed``: the load real sites live on, and where its CPU goes.

Starts the local distributed shape on its own database, lists ``BENCH_MIXED_AUCTIONS`` items
with varied titles, connects ``BENCH_MIXED_WATCHERS`` Socket.IO watchers (through the gateway,
each watching one of the first ``BENCH_MIXED_WATCHED`` auctions), then, for
``BENCH_MIXED_SECONDS`` per run and ``BENCH_REPEATS`` runs, drives at once:

- bidders (``BENCH_MIXED_BIDDERS``) bidding over all the auctions (closed loop, keep-alive);
- browsers (``BENCH_MIXED_BROWSERS``) reading what a visitor reads: the home page's open
  listings, a search for a word of the titles, an auction's live state, a listing.

It reports each kind of request's rate and latency, what the watchers received (from the
bid's placement under the row lock to receipt), and the CPU each kind of process used, per
second of the run and per accepted bid (``bench.cpu``: shared processes marked as such).
Writes bench/results/mixed.{json,md}.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from tests.support.api import Api, wait_for
from tools import provision
from tools.services import ROOT
from tools.stack import Stack, _local_postgres, free_port

from .cpu import cpu_between, process_cpu

RESULTS = ROOT / "bench" / "results"
AUCTIONS = int(os.environ.get("BENCH_MIXED_AUCTIONS", "1000"))
BIDDERS = int(os.environ.get("BENCH_MIXED_BIDDERS", "16"))
BROWSERS = int(os.environ.get("BENCH_MIXED_BROWSERS", "8"))
WATCHERS = int(os.environ.get("BENCH_MIXED_WATCHERS", "500"))
WATCHED = int(os.environ.get("BENCH_MIXED_WATCHED", "100"))
SECONDS = float(os.environ.get("BENCH_MIXED_SECONDS", "15"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
T0 = time.time()

ADJECTIVES = ["vintage", "antique", "brass", "silver", "wooden", "leather", "ceramic", "rare",
              "handmade", "classic", "retro", "golden", "porcelain", "signed", "modern"]
NOUNS = ["camera", "telescope", "bracelet", "earrings", "clock", "lamp", "guitar", "vase",
         "chair", "watch", "compass", "typewriter", "radio", "teapot", "mirror", "bicycle"]
SEARCHES = ["vintage", "camera", "brass telescope", "silver bracelet", "clock", "guitar",
            "antique vase", "retro radio", "teapot", "watch"]


def listing(n: int) -> dict:
    """The n-th listing's fields: a title and description drawn from a small vocabulary, so
    that searches match broad and narrow sets."""
    draw = random.Random(n)
    title = f"{draw.choice(ADJECTIVES).title()} {draw.choice(ADJECTIVES)} {draw.choice(NOUNS)}"
    words = " ".join(draw.choice(ADJECTIVES + NOUNS) for _ in range(12))
    return {"title": title, "description": f"In good order. {words}.",
            "category": draw.choice(["collectibles", "electronics", "fashion", "home"]),
            "starting_price": 1000}


# --- watchers -------------------------------------------------------------------------------

def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def _watch(url: str, auctions: list[str], count: int, ready, done, out: list) -> None:
    import socketio

    clients = []

    async def one(index: int) -> None:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("bid.placed")
        async def _placed(data):
            now = time.time()
            out.append((now, now - _seconds(data["placed_at"])))

        await client.connect(url, transports=["websocket"], wait_timeout=60)
        await client.call("watch", {"auction_id": auctions[index % len(auctions)]}, timeout=60)
        clients.append(client)

    for start in range(0, count, 100):  # connect in waves, not all at once
        await asyncio.gather(*(one(start + i) for i in range(min(100, count - start))))
    ready.set()
    while not done.is_set():
        await asyncio.sleep(0.1)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


def _watcher_process(url, auctions, count, ready, done, queue) -> None:
    out: list = []
    asyncio.run(_watch(url, auctions, count, ready, done, out))
    queue.put(out)


# --- the load -------------------------------------------------------------------------------

def _client_loop(kind: str, index: int, base_url: str, tokens: list[str], auctions: list[str],
                 start_at: float, seconds: float) -> tuple[str, list[float], int, int]:
    """One closed-loop client of ``kind`` (``bid`` or ``browse``): (kind, latencies, accepted
    or answered, errors)."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    draw = random.Random(index)
    token = tokens[index % len(tokens)]
    latencies, good, errors, sequence = [], 0, 0, 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        if kind == "bid":
            amount = 100_000 + int((time.time() - T0) * 20_000_000) + index
            body = json.dumps({"auction_id": draw.choice(auctions), "amount": amount}).encode()
            method, path, headers = "POST", "/api/bids", {
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        else:
            body, method, headers = None, "GET", {}
            pick = sequence % 10
            if pick < 4:
                path = "/api/auctions?status=open&limit=24"
            elif pick < 6:
                path = f"/api/auctions?q={quote(draw.choice(SEARCHES))}&limit=24"
            elif pick < 9:
                path = f"/api/bids/auctions/{draw.choice(auctions)}"
            else:
                path = f"/api/auctions/{draw.choice(auctions)}"
        began = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status >= 500:
                errors += 1
            elif response.status in (200, 201):
                good += 1
        except (http.client.HTTPException, OSError):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        latencies.append(time.perf_counter() - began)
        sequence += 1
    return kind, latencies, good, errors


def _load_process(clients: list[tuple[str, int]], base_url, tokens, auctions, start_at,
                  seconds, queue) -> None:
    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(lambda c: _client_loop(c[0], c[1], base_url, tokens, auctions,
                                                       start_at, seconds), clients))
    queue.put(results)


def _pct(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_once(stack: Stack, tokens: list[str], auctions: list[str], samples: list,
             samples_lock: threading.Lock) -> dict:
    """One run of the mix: request figures, watchers' deliveries, CPU by process kind."""
    clients = [("bid", i) for i in range(BIDDERS)] + [("browse", BIDDERS + i)
                                                      for i in range(BROWSERS)]
    halves = [clients[0::2], clients[1::2]]
    queue: mp.Queue = mp.Queue()
    start_at = time.time() + 1.0
    workers = [mp.Process(target=_load_process, args=(half, stack.url, tokens, auctions,
                                                      start_at, SECONDS, queue))
               for half in halves if half]
    for worker in workers:
        worker.start()
    while time.time() < start_at:
        time.sleep(0.005)
    cpu_before, load_before = process_cpu(stack.database), os.times()
    results = [r for _ in workers for r in queue.get()]
    cpu = cpu_between(cpu_before, process_cpu(stack.database))
    for worker in workers:
        worker.join()
    end = start_at + SECONDS
    figures = {}
    for kind in ("bid", "browse"):
        latencies = [v for k, lat, _, _ in results if k == kind for v in lat]
        figures[kind] = {
            "requests": len(latencies),
            "good": sum(g for k, _, g, _ in results if k == kind),
            "errors": sum(e for k, _, _, e in results if k == kind),
            "per_second": round(len(latencies) / SECONDS, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
            "p99_ms": round(_pct(latencies, 0.99) * 1000, 2),
        }
    accepted = figures["bid"]["good"]
    figures["bid"]["accepted_per_second"] = round(accepted / SECONDS, 1)
    with samples_lock:
        window = [lag for at, lag in samples if start_at <= at <= end + 1.0]
    deliveries = {"received": len(window),
                  "p50_ms": round(statistics.median(window) * 1000, 1) if window else None,
                  "p99_ms": round(_pct(window, 0.99) * 1000, 1) if window else None}
    load_after = os.times()
    return {
        "requests": figures, "deliveries": deliveries,
        "cpu_cores_used": {k: round(v / SECONDS, 3) for k, v in cpu.items()},
        "cpu_ms_per_accepted_bid": {k: round(v * 1000 / max(accepted, 1), 2)
                                    for k, v in cpu.items()},
        "load_generator_cpu_s": round(sum(load_after[2:4]) - sum(load_before[2:4]), 2),
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    """Start the stack, list, connect watchers, run the mix ``REPEATS`` times, save."""
    run_id = uuid.uuid4().hex[:8]
    state = ROOT / "var" / f"bench-{run_id}"
    admin = _local_postgres(state)
    stack = Stack(state, gateway_port=free_port(), admin_database_url=admin,
                  database=f"bench_{run_id}", vhost=f"bench_{run_id}",
                  extra_env={"RATE_LIMIT_PER_IP": "100000/minute"})
    print("starting the local distributed shape ...", flush=True)
    stack.start()
    done, watchers = mp.Event(), []
    runs = []
    try:
        api = Api(stack.url)
        seller = api.register("seller")
        bidders = [api.register(f"bidder{i}") for i in range(BIDDERS)]
        print(f"listing {AUCTIONS} auctions ...", flush=True)
        with ThreadPoolExecutor(4) as pool:
            auctions = list(pool.map(lambda n: seller.create_auction(
                seconds=7200, **listing(n))["id"], range(AUCTIONS)))
        api.wait_until_biddable(auctions[-1], timeout=120)
        wait_for(lambda: all(api.live_state(a).status_code == 200 for a in auctions[::50]),
                 timeout=120, message="every auction in bidding_service")
        print(f"connecting {WATCHERS} watchers ...", flush=True)
        queue: mp.Queue = mp.Queue()
        ready = mp.Event()
        watched = auctions[:WATCHED]
        if WATCHERS:
            watchers.append(mp.Process(target=_watcher_process,
                                       args=(stack.url, watched, WATCHERS, ready, done, queue)))
            watchers[0].start()
            if not ready.wait(300):
                raise RuntimeError("watchers did not connect in time")
        # The watchers' samples arrive at the end; each run picks its own window from them.
        samples: list = []
        lock = threading.Lock()
        tokens = [b.tokens["access_token"] for b in bidders]
        marks = []
        for repeat in range(REPEATS):
            run = run_once(stack, tokens, auctions, samples, lock)
            marks.append(run)
            runs.append(run)
            r = run["requests"]
            print(f"run {repeat + 1}: bids {r['bid']['accepted_per_second']}/s accepted "
                  f"({r['bid']['per_second']}/s sent, p50 {r['bid']['p50_ms']} p99 "
                  f"{r['bid']['p99_ms']} ms, errors {r['bid']['errors']}); browse "
                  f"{r['browse']['per_second']}/s (p50 {r['browse']['p50_ms']} p99 "
                  f"{r['browse']['p99_ms']} ms, errors {r['browse']['errors']}); CPU cores: "
                  + ", ".join(f"{k} {v}" for k, v in run["cpu_cores_used"].items() if v >= 0.01),
                  flush=True)
            time.sleep(2.0)  # let the pipeline drain between runs
        done.set()
        if watchers:
            all_samples = queue.get(timeout=120)
            samples.extend(all_samples)
            _deliveries_per_run(runs, all_samples)
    finally:
        done.set()
        for worker in watchers:
            worker.join(timeout=30)
        stack.stop()
        provision.drop_database(admin, stack.database)
        provision.delete_rabbitmq_vhost(stack.vhost)
    save(runs)


def _deliveries_per_run(runs: list[dict], samples: list) -> None:
    """Fill each run's delivery figures from the watchers' samples (each run knows its window
    only as the order of runs: samples are split by the gaps between runs)."""
    samples.sort()
    # Runs are SECONDS long and 3 s apart at least: cluster receipts by time.
    clusters: list[list[float]] = []
    last = None
    for at, lag in samples:
        if last is None or at - last > 1.5:
            clusters.append([])
        clusters[-1].append(lag)
        last = at
    for run, lags in zip(runs, clusters, strict=False):
        run["deliveries"] = {"received": len(lags),
                             "p50_ms": round(statistics.median(lags) * 1000, 1),
                             "p99_ms": round(_pct(lags, 0.99) * 1000, 1)}


def _spread(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]}"
    return f"{statistics.median(values):g} ({min(values):g}–{max(values):g})"


def save(runs: list[dict]) -> None:
    """bench/results/mixed.json and a markdown summary (median, lowest–highest)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"when": datetime.now(UTC).isoformat(), "auctions": AUCTIONS, "bidders": BIDDERS,
            "browsers": BROWSERS, "watchers": WATCHERS, "watched_auctions": WATCHED,
            "seconds_per_run": SECONDS, "repeats": REPEATS, "cpus": os.cpu_count(),
            "note": "load generator and watchers share the machine, and so do other people's "
                    "tests: the PostgreSQL background processes and the RabbitMQ node are "
                    "shared (upper bounds)"}
    (RESULTS / "mixed.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=2))
    lines = ["| figure | median (lowest–highest) |", "|---|---|"]
    for label, path in [
            ("bids accepted /s", ("requests", "bid", "accepted_per_second")),
            ("bids sent /s", ("requests", "bid", "per_second")),
            ("bid p50 ms", ("requests", "bid", "p50_ms")),
            ("bid p99 ms", ("requests", "bid", "p99_ms")),
            ("browse and search requests /s", ("requests", "browse", "per_second")),
            ("browse p50 ms", ("requests", "browse", "p50_ms")),
            ("browse p99 ms", ("requests", "browse", "p99_ms")),
            ("watchers' deliveries", ("deliveries", "received")),
            ("delivery p50 ms (placed → client)", ("deliveries", "p50_ms")),
            ("delivery p99 ms", ("deliveries", "p99_ms"))]:
        values = []
        for run in runs:
            value = run
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        lines.append(f"| {label} | {_spread(values)} |")
    kinds = sorted({k for run in runs for k in run["cpu_cores_used"]},
                   key=lambda k: -statistics.mean(r["cpu_cores_used"].get(k, 0) for r in runs))
    cpu = ["| process kind | CPU cores used | CPU ms per accepted bid |", "|---|---|---|"]
    for kind in kinds:
        cores = [r["cpu_cores_used"].get(kind, 0.0) for r in runs]
        per_bid = [r["cpu_ms_per_accepted_bid"].get(kind, 0.0) for r in runs]
        if max(cores) >= 0.005:
            cpu.append(f"| {kind} | {_spread(cores)} | {_spread(per_bid)} |")
    (RESULTS / "mixed.md").write_text(
        f"# Mixed workload ({meta['when']}, {REPEATS} runs of {SECONDS:.0f} s, "
        f"{meta['cpus']} CPUs)\n\n{BIDDERS} bidders over {AUCTIONS} auctions, {BROWSERS} "
        f"browsers (home page, search, live state, listing), {WATCHERS} Socket.IO watchers on "
        f"{WATCHED} of the auctions, all at once, closed loop; the load generator and the "
        "watchers share the two cores with the stack.\n\n" + "\n".join(lines)
        + "\n\nWhere the CPU goes (the stack's own processes; PostgreSQL's background "
        "processes and the RabbitMQ node are shared with the rest of the machine):\n\n"
        + "\n".join(cpu) + "\n")


if __name__ == "__main__":
    main()
