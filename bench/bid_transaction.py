"""``python -m bench.bid_transaction OTHER_CHECKOUT``: the bid's own transaction, paired A/B.

The part of the bid path that is neither HTTP nor the event pipeline: ``handlers.place_bid``
called directly (row lock, decision, writes, outbox, commit), one bid at a time, on live
auctions of a scratch database, spread over 200 auctions or on one. Two long-lived worker
processes, one with this checkout's code and one with ``OTHER_CHECKOUT``'s (e.g. ``/work/main``),
each with its own database, take turns running for 1 s, ``BENCH_PAIRS`` times (default 12),
the order alternating: on a shared machine only such paired, interleaved comparisons are
steady enough to tell a 10% change. Reports bids per second, the worker's CPU per bid and
the median latency, and for each the median of the paired ratios (this / other) with its
interquartile range. Writes bench/results/bid_transaction.{json,md}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

PAIRS = int(os.environ.get("BENCH_PAIRS", "12"))
ADMIN = os.environ.get("BENCH_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
FIGURES = ("bids_per_second", "cpu_ms_per_bid", "p50_ms")


def worker() -> None:
    """Set up a scratch database with the code on the path, then answer ``<scenario>
    <seconds>`` lines on stdin with one JSON line of figures each."""
    from sqlalchemy import text

    from auction_common.migrations import upgrade
    from bidding_service import handlers
    from bidding_service.app import build_parts
    from bidding_service.settings import BiddingSettings
    from tools import provision
    from tools.services import SERVICES

    name = "bench_tx_" + uuid.uuid4().hex[:8]
    provision.ensure_database(ADMIN, name)
    urls = provision.service_urls(ADMIN, name)
    try:
        spec = next(s for s in SERVICES if s.package == "bidding_service")
        upgrade(spec.directory, urls["bidding_service"])
        db = build_parts(BiddingSettings(database_url=urls["bidding_service"],
                                         jwt_public_key="x", log_json=False)).db
        now = datetime.now(UTC)
        auctions = [uuid.uuid4() for _ in range(201)]
        with db.engine.begin() as conn:
            for auction in auctions:
                conn.execute(text(
                    "INSERT INTO bidding.auctions (id, seller_id, title, currency, "
                    "starting_price, current_price, starts_at, ends_at) VALUES (:id, :seller, "
                    "'t', 'EUR', 100, 100, :starts, :ends)"),
                    {"id": auction, "seller": uuid.uuid4(), "starts": now - timedelta(hours=1),
                     "ends": now + timedelta(hours=2)})
        started, bidder, sequence = time.time(), str(uuid.uuid4()), 0
        print("ready", flush=True)
        for line in sys.stdin:
            scenario, seconds = line.split()
            targets = auctions[1:] if scenario == "spread" else auctions[:1]
            stop, latencies, cpu = time.monotonic() + float(seconds), [], time.process_time()
            while time.monotonic() < stop:
                began = time.perf_counter()
                handlers.place_bid(db, bidder, targets[sequence % len(targets)],
                                   10_000 + int((time.time() - started) * 2_000_000))
                latencies.append(time.perf_counter() - began)
                sequence += 1
            latencies.sort()
            print(json.dumps({
                "bids_per_second": len(latencies) / float(seconds),
                "cpu_ms_per_bid": (time.process_time() - cpu) * 1000 / len(latencies),
                "p50_ms": latencies[len(latencies) // 2] * 1000}), flush=True)
        db.engine.dispose()
    finally:
        provision.drop_database(ADMIN, name)


def main() -> None:
    """Start both workers, alternate them ``PAIRS`` times per scenario, print and save."""
    here = Path(__file__).resolve().parent.parent
    if len(sys.argv) != 2 or Path(sys.argv[1]).resolve() == here:
        raise SystemExit("usage: python -m bench.bid_transaction OTHER_CHECKOUT")
    checkouts = {"this": here, "other": Path(sys.argv[1]).resolve()}
    workers = {label: subprocess.Popen(  # this file, run with each checkout's code on the path
        [sys.executable, str(Path(__file__).resolve()), "--worker"], cwd=path,
        env={**os.environ, "PYTHONPATH": str(path)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True) for label, path in checkouts.items()}
    runs: dict[str, dict[str, list[dict]]] = {s: {k: [] for k in checkouts}
                                              for s in ("spread", "hot")}
    try:
        for process in workers.values():
            if process.stdout.readline().strip() != "ready":
                raise SystemExit("a worker did not start")
        for pair in range(PAIRS):
            for scenario in runs:
                for label in (("this", "other") if pair % 2 == 0 else ("other", "this")):
                    workers[label].stdin.write(f"{scenario} 1.0\n")
                    workers[label].stdin.flush()
                    runs[scenario][label].append(json.loads(workers[label].stdout.readline()))
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait(timeout=60)
    # Here, not at the top: the workers run this file on the other checkout's path.
    from bench.paired import checkouts_named, paired_table, paired_title, run_meta, save_paired

    summary, lines = paired_table(runs, FIGURES, ("scenario", "figure"))
    meta = run_meta(pairs=PAIRS, checkouts={k: str(v) for k, v in checkouts.items()})
    save_paired(
        "bid_transaction", meta, summary, runs,
        paired_title("The bid's transaction", meta, f"{PAIRS} pairs of 1 s runs per scenario"),
        "`handlers.place_bid` called directly, one bid at a time (no HTTP, no event pipeline); "
        + checkouts_named(meta)
        + "; spread = over 200 auctions, hot = one auction; medians of the runs, and the median "
        "of the paired ratios (this / other) with its interquartile range.", lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main()
