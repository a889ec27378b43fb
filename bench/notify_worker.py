"""``python -m bench.notify_worker OTHER_CHECKOUT``: the notification worker's CPU per outbid.

What a bidding war spread over many auctions costs notification_service: the consumer of
``notification_service.notify`` applying ``bid.outbid`` events in the batches the RabbitMQ
consumer hands over (``handle_batch``), then the ``email`` job sending what they wrote to a
real mail sink (``python -m mailsink``, a process of its own). No broker, no HTTP: the events
are made here as 16 bidders over 200 auctions make them (each bid outbids the auction's
leader, ``seq`` rising per auction). Counted per event, in CPU milliseconds: the worker
process applying the events and sending the emails, the PostgreSQL backends serving it
(those connected to the run's own database) and the mail sink.

Two long-lived worker processes, one with this checkout's code and one with
``OTHER_CHECKOUT``'s (e.g. ``/work/main``), each with its own database and sink, take turns,
``BENCH_PAIRS`` times (default 8), the order alternating: on a shared machine only such paired
comparisons tell a change from the noise. Scenarios: ``quiet`` (``OUTBID_QUIET_SECONDS`` 600,
the default: a bidder outbid again on an auction before reading the notice gets it updated and
no email), ``loud`` (0: one notice and one email per outbid); batches of 32 (the prefetch, a
worker that lags) and of 4 (about what 20 ms brings at 150 bids/s). Writes
bench/results/notify_worker.{json,md}. ``BENCH_PROFILE=path`` saves a cProfile of this
checkout's worker (``pstats`` file) instead of comparing; ``--alone`` runs this checkout's
worker only, once per scenario.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

PAIRS = int(os.environ.get("BENCH_PAIRS", "8"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "640"))
ADMIN = os.environ.get("BENCH_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
SCENARIOS = ("quiet 32", "quiet 4", "loud 32", "loud 4")
FIGURES = ("worker_consume", "worker_email", "postgresql", "mailsink", "total")


def _cpu(processes) -> float:
    import psutil

    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _backends(database: str):
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if command.startswith("postgres") and f" {database} " in command + " ":
            found.append(process)
    return found


class War:
    """Outbid events as 16 bidders spread over 200 auctions make them."""

    def __init__(self, users: list[str], seed: int = 7):
        self.random = random.Random(seed)
        self.users = users
        self.auctions = [str(uuid.uuid4()) for _ in range(200)]
        self.leader: dict[str, str] = {}
        self.seq: dict[str, int] = {}
        self.ends_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()

    def events(self, count: int) -> list[dict]:
        from auction_common.events import make_envelope

        made = []
        while len(made) < count:
            auction = self.random.choice(self.auctions)
            bidder = self.random.choice(self.users)
            leader = self.leader.get(auction)
            if bidder == leader:
                continue
            self.seq[auction] = self.seq.get(auction, 0) + 1
            self.leader[auction] = bidder
            if leader is None:
                continue
            price = 1000 + 50 * self.seq[auction]
            made.append(make_envelope("bid.outbid", {
                "auction_id": auction, "seq": self.seq[auction], "user_id": leader,
                "title": f"Lot {auction[:6]}", "currency": "EUR", "current_price": price,
                "min_next_bid": price + 50, "ends_at": self.ends_at,
            }, producer="bidding_service"))
        return made


def worker() -> None:
    """Set up a scratch database and mail sink with the code on the path, then answer
    ``<quiet|loud> <batch size>`` lines on stdin with one JSON line of figures each."""
    import psutil
    from sqlalchemy import text

    from auction_common.migrations import upgrade
    from auction_common.ports import free_port
    from notification_service.app import build_parts
    from notification_service.consumers import notification_consumer
    from notification_service.delivery import deliver_pending_emails
    from notification_service.settings import NotificationSettings
    from tools import provision
    from tools.services import SERVICES

    name = "bench_notify_" + uuid.uuid4().hex[:8]
    provision.ensure_database(ADMIN, name)
    urls = provision.service_urls(ADMIN, name)
    folder = tempfile.mkdtemp(prefix="bench-notify-")
    smtp_port, http_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    sink = subprocess.Popen([sys.executable, "-m", "mailsink", "--smtp-port", str(smtp_port),
                             "--http-port", str(http_port), "--store", f"{folder}/mail.jsonl"])
    profile = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
    try:
        spec = next(s for s in SERVICES if s.package == "notification_service")
        upgrade(spec.directory, urls["notification_service"])
        settings = NotificationSettings(database_url=urls["notification_service"],
                                        jwt_public_key="x", log_json=False,
                                        smtp_port=smtp_port, public_url="http://bench.test")
        db = build_parts(settings).db
        users = [str(uuid.uuid4()) for _ in range(16)]
        with db.engine.begin() as conn:
            for n, user in enumerate(users):
                conn.execute(text("INSERT INTO notifications.contacts (user_id, email, "
                                  "display_name, version) VALUES (:u, :e, :n, 1)"),
                             {"u": user, "e": f"bidder{n}@example.test", "n": f"bidder {n}"})
        consumers = {"quiet": notification_consumer(db, settings.public_url, 600),
                     "loud": notification_consumer(db, settings.public_url, 0)}
        for _ in range(100):
            if provision.port_answers("127.0.0.1", smtp_port):
                break
            time.sleep(0.1)
        war, me, mail = War(users), psutil.Process(), psutil.Process(sink.pid)
        print("ready", flush=True)
        for line in sys.stdin:
            scenario, size = line.split()
            events, size = war.events(EVENTS), int(size)
            backends = _backends(name)
            start = (me.cpu_times(), _cpu(backends), _cpu([mail]))
            if profile:
                profile.enable()
            for first in range(0, len(events), size):
                errors = consumers[scenario].handle_batch(events[first:first + size])
                assert not any(errors), errors
            consumed = me.cpu_times()
            while deliver_pending_emails(db, settings, batch_size=100):
                pass
            if profile:
                profile.disable()
            end = (me.cpu_times(), _cpu(_backends(name)), _cpu([mail]))
            pg = end[1] - start[1]  # a backend opened meanwhile counts from zero: all of it

            def ms(seconds: float, count: int = len(events)) -> float:
                return seconds * 1000 / count

            figures = {
                "worker_consume": ms(sum(consumed[:2]) - sum(start[0][:2])),
                "worker_email": ms(sum(end[0][:2]) - sum(consumed[:2])),
                "postgresql": ms(pg), "mailsink": ms(end[2] - start[2]),
            }
            figures["total"] = sum(figures.values())
            print(json.dumps(figures), flush=True)
        if profile:
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        db.engine.dispose()
    finally:
        sink.terminate()
        sink.wait(timeout=30)
        provision.drop_database(ADMIN, name)


def _start(path: Path) -> subprocess.Popen:
    process = subprocess.Popen(  # this file, run with the checkout's code on the path
        [sys.executable, str(Path(__file__).resolve()), "--worker"], cwd=path,
        env={**os.environ, "PYTHONPATH": str(path)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    if process.stdout.readline().strip() != "ready":
        raise SystemExit(f"the worker of {path} did not start")
    return process


def _ask(process: subprocess.Popen, scenario: str) -> dict:
    process.stdin.write(f"{scenario}\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def main() -> None:
    """Start both workers, alternate them ``PAIRS`` times per scenario, print and save."""
    here = Path(__file__).resolve().parent.parent
    if os.environ.get("BENCH_PROFILE") or sys.argv[1:] == ["--alone"]:
        process = _start(here)
        for scenario in SCENARIOS:
            print(scenario, _ask(process, scenario))
        process.stdin.close()
        process.wait(timeout=120)
        return
    if len(sys.argv) != 2 or Path(sys.argv[1]).resolve() == here:
        raise SystemExit("usage: python -m bench.notify_worker OTHER_CHECKOUT")
    checkouts = {"this": here, "other": Path(sys.argv[1]).resolve()}
    workers = {label: _start(path) for label, path in checkouts.items()}
    runs: dict[str, dict[str, list[dict]]] = {s: {k: [] for k in checkouts} for s in SCENARIOS}
    try:
        for pair in range(PAIRS):
            for scenario in SCENARIOS:
                for label in (("this", "other") if pair % 2 == 0 else ("other", "this")):
                    runs[scenario][label].append(_ask(workers[label], scenario))
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait(timeout=120)
    # Here, not at the top: the workers run this file on the other checkout's path.
    from bench.paired import checkouts_named, paired_table, paired_title, run_meta, save_paired

    summary, lines = paired_table(runs, FIGURES, ("scenario (outbid quiet period, batch)",
                                                  "CPU ms per event"))
    meta = run_meta(pairs=PAIRS, events_per_run=EVENTS,
                    checkouts={k: str(v) for k, v in checkouts.items()})
    save_paired(
        "notify_worker", meta, summary, runs,
        paired_title("The notification worker's CPU per outbid", meta,
                     f"{PAIRS} pairs of {EVENTS} events per scenario"),
        "`bid.outbid` events of 16 bidders over 200 auctions applied by the real consumer "
        "(`handle_batch`, in batches of the size given), then the `email` job sending what "
        "they wrote to `python -m mailsink`; CPU milliseconds per event of the worker "
        "(applying; emailing), of the PostgreSQL backends of the run's database and of the "
        "sink. " + checkouts_named(meta)
        + "; medians of the runs, and the median of the paired ratios (this / other) with its "
        "interquartile range. quiet = `OUTBID_QUIET_SECONDS` 600 (the default: most outbids "
        "update an unread notice once the war is under way), loud = 0 (a notice and an email "
        "each).", lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main()
