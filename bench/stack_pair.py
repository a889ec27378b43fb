"""``python -m bench.stack_pair OTHER_CHECKOUT``: the whole stack against another checkout's.

Two local distributed shapes (nginx, gunicorn services, workers, realtime, RabbitMQ vhosts and
databases of their own on the machine's PostgreSQL and RabbitMQ), one from this checkout and
one from ``OTHER_CHECKOUT`` (e.g. ``/work/main``), each started and seeded by a side process
running on that checkout's code: a seller, ``BENCH_CONCURRENCY`` bidders (16) and
``BENCH_AUCTIONS`` auctions (1,000). Then the sides take turns, ``BENCH_PAIRS`` times (6), the
order alternating: ``BENCH_SECONDS`` (10) of bids through the gateway, spread over every
auction, as ``bench.bid_path`` makes them; after each turn the side settles (its consumers
finish their backlog and its emails go out) before the next turn starts, and after a warm-up
of ``BENCH_WARM_UP_SECONDS`` (20) per side that is not counted. Per turn: accepted bids a
second, p50 and p99, the seconds it took to settle, and the CPU per bid of each process kind
from the start of the turn until settled, so all the work its bids caused (``bench.cpu``: the
web, each worker, realtime, nginx, RabbitMQ, the PostgreSQL backends by the process they
serve, the load generator).

What the single-stack benches cannot tell: whether a change to one stage shows in the whole,
where the stages share two cores. Only turns that alternate, minutes apart at most, are steady
enough on a shared machine; the table gives each side's median and the median of the paired
ratios (this / other) with their whole range. Writes bench/results/stack_pair.{json,md}.
Needs ``OTHER_CHECKOUT`` to have ``bench.bid_path``, ``bench.load`` and ``bench.cpu``.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

PAIRS = int(os.environ.get("BENCH_PAIRS", "6"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
AUCTIONS = int(os.environ.get("BENCH_AUCTIONS", "1000"))
#: Seconds of bids each side makes, then settles, before the counted turns: the first
#: seconds of a fresh stack (pools opening, every outbid a first one, so an email each) cost
#: more than the rest, and a side ahead in that phase looked 20% faster than the same code.
WARM_UP = float(os.environ.get("BENCH_WARM_UP_SECONDS", "20"))
SETTLED_CORES = 0.15
SETTLE_LIMIT = 60.0
FIGURES = ("bids_per_second", "p50_ms", "p99_ms", "cpu_ms_per_bid", "settle_seconds")
#: The process kinds shown one by one (the rest are in the JSON).
KINDS = 10


def side() -> None:
    """Start and seed a stack with the code on the path, then answer each ``load`` line on
    stdin with one JSON line of figures."""
    from bench.bid_path import _platform_factory
    from bench.cpu import cpu_between, process_cpu
    from bench.load import run_load
    from tests.support.api import Api, wait_for
    from tools import provision
    from tools.services import ROOT
    from tools.stack import Stack, _local_postgres, free_port

    run = uuid.uuid4().hex[:8]
    database = vhost = f"bench_pair_{run}"
    state = ROOT / "var" / f"bench-pair-{run}"
    admin = _local_postgres(state)
    stack = Stack(state, gateway_port=free_port(), admin_database_url=admin, database=database,
                  vhost=vhost, extra_env={"RATE_LIMIT_PER_IP": "100000/minute"})
    stack.start()
    try:
        api = Api(stack.url)
        seller = api.register("seller")
        tokens = [api.register(f"bidder{i}").tokens["access_token"]
                  for i in range(CONCURRENCY)]
        auctions = [seller.create_auction(seconds=7200, starting_price=1000)["id"]
                    for _ in range(AUCTIONS)]
        api.wait_until_biddable(auctions[-1], timeout=120)
        wait_for(lambda: all(api.live_state(a).status_code == 200 for a in auctions[::50]),
                 timeout=120, message="every auction in bidding_service")
        load = functools.partial(run_load, functools.partial(
            _platform_factory, stack.url, tokens, auctions), CONCURRENCY)
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "warm up":
                load(WARM_UP)
                _settle(database, process_cpu, cpu_between)
                print("{}", flush=True)
                continue
            before = process_cpu(database)
            figures = load(SECONDS)
            settled = _settle(database, process_cpu, cpu_between)
            cpu = {kind: seconds * 1000 / max(figures.requests, 1) for kind, seconds
                   in cpu_between(before, process_cpu(database)).items()}
            cpu["load generator"] = figures.client_cpu_ms_per_request
            print(json.dumps({
                "bids_per_second": figures.accepted_per_second, "p50_ms": figures.p50_ms,
                "p99_ms": figures.p99_ms, "errors": figures.errors,
                "cpu_ms_per_bid": sum(cpu.values()), "cpu": cpu,
                "settle_seconds": settled}), flush=True)
    finally:
        stack.stop()
        provision.drop_database(admin, database)
        provision.delete_rabbitmq_vhost(vhost)


def _settle(database: str, process_cpu, cpu_between) -> float:
    """Wait until this side's stack has finished what the last turn left it (the consumers'
    backlog, the emails), so that the other side's next turn does not share the cores with
    it, and so that the turn's CPU counts all the work its bids caused; returns the seconds
    waited. Settled: less than SETTLED_CORES of CPU over half a second (an idle stack's
    periodic jobs use a few hundredths) in this side's own processes and database backends,
    or SETTLE_LIMIT seconds."""
    start = time.monotonic()
    before = process_cpu(database, by_client=False)
    while time.monotonic() - start < SETTLE_LIMIT:
        time.sleep(0.5)
        now = process_cpu(database, by_client=False)
        used = sum(seconds for kind, seconds in cpu_between(before, now).items()
                   if "shared" not in kind)  # the broker and server others use too
        before = now
        if used < SETTLED_CORES * 0.5:
            break
    return round(time.monotonic() - start, 2)


def _start(path: Path) -> subprocess.Popen:
    process = subprocess.Popen(  # this file, run with the checkout's code on the path
        [sys.executable, str(Path(__file__).resolve()), "--side"], cwd=path,
        env={**os.environ, "PYTHONPATH": str(path)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    return process


def _ready(process: subprocess.Popen, path: Path) -> None:
    for line in process.stdout:
        if line.strip() == "ready":
            return
    raise SystemExit(f"the stack of {path} did not start")


def _turn(process: subprocess.Popen, what: str = "load") -> dict:
    process.stdin.write(f"{what}\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def main() -> None:
    """Start both stacks (seeded side by side), take the turns, print and save."""
    here = Path(__file__).resolve().parent.parent
    if len(sys.argv) != 2 or Path(sys.argv[1]).resolve() == here:
        raise SystemExit("usage: python -m bench.stack_pair OTHER_CHECKOUT")
    checkouts = {"this": here, "other": Path(sys.argv[1]).resolve()}
    sides = {label: _start(path) for label, path in checkouts.items()}
    scenario = f"{CONCURRENCY} bidders over {AUCTIONS} auctions"
    turns: dict[str, list[dict]] = {label: [] for label in checkouts}
    try:
        for label, process in sides.items():
            _ready(process, checkouts[label])
        for process in sides.values():
            _turn(process, "warm up")
        for pair in range(PAIRS):
            for label in (("this", "other") if pair % 2 == 0 else ("other", "this")):
                turns[label].append(_turn(sides[label]))
                figures = turns[label][-1]
                print(f"{label:5} {figures['bids_per_second']:7.1f} bids/s p99 "
                      f"{figures['p99_ms']:.1f} ms CPU {figures['cpu_ms_per_bid']:.2f} ms/bid",
                      flush=True)
    finally:
        for process in sides.values():
            process.stdin.close()
            process.wait(timeout=180)
    from bench.paired import checkouts_named, paired_table, paired_title, run_meta, save_paired

    kinds = sorted({kind for t in turns["other"] for kind in t["cpu"]},
                   key=lambda kind: -statistics.median(t["cpu"].get(kind, 0.0)
                                                       for t in turns["other"]))[:KINDS]
    for label_turns in turns.values():
        for t in label_turns:
            t.update({f"cpu: {kind}": t["cpu"].get(kind, 0.0) for kind in kinds})
    summary, lines = paired_table({scenario: turns},
                                  FIGURES + tuple(f"cpu: {kind}" for kind in kinds),
                                  ("scenario", "figure (CPU in ms per bid)"), spread="range")
    meta = run_meta(pairs=PAIRS, seconds=SECONDS, warm_up_seconds=WARM_UP,
                    concurrency=CONCURRENCY, auctions=AUCTIONS,
                    checkouts={k: str(v) for k, v in checkouts.items()})
    save_paired(
        "stack_pair", meta, summary, {scenario: turns},
        paired_title("The whole stack against another checkout's", meta,
                     f"{PAIRS} pairs of {SECONDS:g} s"),
        "Two local distributed shapes side by side, taking turns (the order alternating): "
        "POST /api/bids through each one's gateway, spread over every auction. "
        + checkouts_named(meta)
        + "; medians of the turns, and the median of the paired ratios (this / other) with "
        "their range. Each side settles after its turn (its backlog done) before the next; "
        f"{WARM_UP:g} s of warm-up each, not counted. CPU in ms per request by process kind "
        "from the start of a turn until settled (`bench.cpu`; spread over many "
        "auctions nearly every request is an accepted bid), `cpu_ms_per_bid` their sum with "
        "the load generator's; the other kinds are in the JSON.", lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--side"]:
        side()
    else:
        main()
