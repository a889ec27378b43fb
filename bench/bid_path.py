"""``python -m bench.bid_path``: accepted bids per second and latency on the bid path.

Starts the local distributed shape (nginx, gunicorn services, RabbitMQ, PostgreSQL) on its own
database, then for each number of concurrent bidders (``BENCH_CONCURRENCY``, default 1 and 16)
measures POST /api/bids through the gateway on one hot auction and spread over 200 and 1,000
auctions (``BENCH_AUCTIONS``), beside three baselines from the same machine in the same run:
raw PostgreSQL doing the same transaction statement by statement (lock the row, read the
clock, decide, update it, insert the bid and an outbox row, NOTIFY, commit), the same in the
fewest round trips, and the minimal transaction (lock the row, insert the bid, update the
auction). Each scenario runs ``BENCH_REPEATS`` times (default 3), the platform and the
baselines interleaved, and the ratios are taken per repeat: the machine is shared, so only
ratios measured minutes apart mean anything, and their spread is reported. Every accepted bid
is durable before its 201 (synchronous commit is left on). CPU by process kind comes from
``bench.cpu``. Writes bench/results/bid_path.{json,md}, or ``<BENCH_NAME>.{json,md}`` (a
narrower run, e.g. one scenario with more and longer repeats, beside the full one).
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg2
from sqlalchemy.engine import make_url

from bidding_service.domain import AuctionState, BidRejected, decide_bid
from tests.support.api import Api, wait_for
from tools import provision
from tools.services import ROOT
from tools.stack import Stack, _local_postgres, free_port

from .cpu import cpu_between, process_cpu
from .load import run_load

RESULTS = ROOT / "bench" / "results"
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,16,64").split(",")]
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
SPREADS = [int(n) for n in os.environ.get("BENCH_AUCTIONS", "200,1000").split(",")]
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
NAME = os.environ.get("BENCH_NAME", "bid_path")
T0 = time.time()
STARTED = datetime(2020, 1, 1, tzinfo=UTC)


#: How fast the bidders' amounts rise, in minor units a second: two bids made 20 µs apart
#: differ by more than the largest increment (10,000). On one hot auction 16 bidders still race:
#: a bid made before one decided ahead of it is too low (in both the platform and the same
#: transaction's baseline, ~45-60% of them), while the minimal transaction accepts every bid;
#: at 20,000,000 a second bids made within half a millisecond were too low besides (the
#: platform's accepted share 0.43 against 0.55 now). The API's ceiling of 10^12 is 2,000 s away.
RISE_PER_SECOND = 500_000_000


def rising_amount(client: int) -> int:
    """Amounts that keep rising faster than the increments, so nearly every bid is acceptable
    (each run's share of accepted bids is in the results)."""
    return 100_000 + int((time.time() - T0) * RISE_PER_SECOND) + client


def _platform_factory(base_url: str, tokens: list[str], auctions: list[str]):
    """POST /api/bids over one keep-alive connection per client thread, with the standard
    library's http.client: the load generator shares the machine, and ``requests`` spent
    about 0.9 ms of CPU per request more (measured), CPU the platform then did not get."""
    local = threading.local()
    address = urlsplit(base_url)

    def post(path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(
                address.hostname, address.port, timeout=30)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            connection.close()  # counted as an error; the next request reconnects
            local.connection = None
            raise

    def make_request(client: int, sequence: int) -> bool:
        auction = auctions[(client * 7919 + sequence) % len(auctions)]
        status, body = post(
            "/api/bids", json.dumps({"auction_id": auction, "amount": rising_amount(client)})
            .encode(), {"Authorization": f"Bearer {tokens[client % len(tokens)]}",
                        "Content-Type": "application/json"})
        if status >= 500:
            raise RuntimeError(body.decode(errors="replace"))
        return status == 201

    return make_request


RAW_SCHEMA = """
DROP SCHEMA IF EXISTS bench_raw CASCADE;
CREATE SCHEMA bench_raw;
CREATE TABLE bench_raw.auctions (id uuid PRIMARY KEY, seller_id uuid NOT NULL,
  current_price bigint NOT NULL, bid_count int NOT NULL DEFAULT 0, leader_id uuid,
  leader_max bigint, seq bigint NOT NULL DEFAULT 0, ends_at timestamptz NOT NULL,
  closed boolean NOT NULL DEFAULT false);
CREATE TABLE bench_raw.bids (id uuid PRIMARY KEY, auction_id uuid NOT NULL,
  bidder_id uuid NOT NULL, max_amount bigint NOT NULL, price_after bigint NOT NULL, seq bigint,
  placed_at timestamptz NOT NULL);
CREATE INDEX ON bench_raw.bids (auction_id, seq);
CREATE TABLE bench_raw.outbox (position bigserial PRIMARY KEY, id uuid NOT NULL UNIQUE,
  type text NOT NULL, payload jsonb NOT NULL, published_at timestamptz);
"""


def _one_request(local: threading.local, dsn: str, auctions: list[str], bidders: list[str],
                 client: int, sequence: int):
    """This thread's connection (opened on its first request), and the auction, bidder and
    amount of a baseline client's request: (conn, auction, bidder, amount)."""
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg2.connect(dsn)
    auction = auctions[(client * 7919 + sequence) % len(auctions)]
    return conn, auction, bidders[client % len(bidders)], rising_amount(client)


def _raw_factory(dsn: str, bidders: list[str], auctions: list[str], fewest_trips: bool = False):
    """The same transaction in raw psycopg2: lock the row, read the clock, decide with the
    engine's own pure function, update the row, insert the bid and an outbox row, NOTIFY,
    commit. Statement by statement (as a plain client writes it), or with ``fewest_trips`` the
    way the platform sends it (lock and clock in one statement, every write in one message,
    then the commit): the tighter baseline."""
    local = threading.local()

    def make_request(client: int, sequence: int) -> bool:
        conn, auction, bidder, amount = _one_request(local, dsn, auctions, bidders, client,
                                                     sequence)
        with conn, conn.cursor() as cur:
            if fewest_trips:
                cur.execute("WITH locked AS MATERIALIZED (SELECT current_price, leader_id, "
                            "leader_max, seq, ends_at, bid_count FROM bench_raw.auctions "
                            "WHERE id = %s FOR UPDATE) SELECT *, clock_timestamp() FROM locked",
                            (auction,))
                price, leader, leader_max, seq, ends_at, count, now = cur.fetchone()
            else:
                cur.execute("SELECT current_price, leader_id, leader_max, seq, ends_at, "
                            "bid_count FROM bench_raw.auctions WHERE id = %s FOR UPDATE",
                            (auction,))
                price, leader, leader_max, seq, ends_at, count = cur.fetchone()
                cur.execute("SELECT clock_timestamp()")
                now = cur.fetchone()[0]
            # The same decision as the platform's (the same pure function), without the web
            # stack and the event pipeline around it.
            state = AuctionState(auction_id=auction, seller_id="seller", starting_price=1000,
                                 starts_at=STARTED, ends_at=ends_at, current_price=price,
                                 bid_count=count, leader_id=leader and str(leader),
                                 leader_max=leader_max, seq=seq)
            try:
                new = decide_bid(state, bidder, amount, now).state
            except BidRejected:
                return False
            price, seq, bid_id = new.current_price, new.seq, str(uuid.uuid4())
            writes = [
                ("UPDATE bench_raw.auctions SET current_price = %s, leader_id = %s, "
                 "leader_max = %s, seq = %s, bid_count = %s WHERE id = %s",
                 (price, new.leader_id, new.leader_max, seq, new.bid_count, auction)),
                ("INSERT INTO bench_raw.bids VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (bid_id, auction, bidder, amount, price, seq, now)),
                ("INSERT INTO bench_raw.outbox (id, type, payload) VALUES (%s, %s, %s)",
                 (str(uuid.uuid4()), "bid.placed", json.dumps(
                     {"auction_id": auction, "bid_id": bid_id, "seq": seq,
                      "current_price": price}))),
                ("SELECT pg_notify('outbox_bench_raw', '')", ()),
            ]
            if fewest_trips:  # psycopg2 sends several statements in one message
                cur.execute(";".join(cur.mogrify(sql, args).decode() for sql, args in writes))
            else:
                for sql, args in writes:
                    cur.execute(sql, args)
        return True

    return make_request


def _minimal_factory(dsn: str, bidders: list[str], auctions: list[str]):
    """The least a bid can be in PostgreSQL: lock the row, insert the bid, update the auction,
    commit, statement by statement from psycopg2; no decision, no events, every one accepted.
    The floor under every other figure: what the database alone costs per bid."""
    local = threading.local()

    def make_request(client: int, sequence: int) -> bool:
        conn, auction, bidder, amount = _one_request(local, dsn, auctions, bidders, client,
                                                     sequence)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_price FROM bench_raw.auctions WHERE id = %s FOR UPDATE",
                        (auction,))
            cur.execute("INSERT INTO bench_raw.bids VALUES (%s, %s, %s, %s, %s, NULL, now())",
                        (str(uuid.uuid4()), auction, bidder, amount, amount))
            cur.execute("UPDATE bench_raw.auctions SET current_price = %s, "
                        "bid_count = bid_count + 1 WHERE id = %s", (amount, auction))
        return True

    return make_request


def _raw_auctions(dsn: str, count: int, create_schema: bool = False) -> list[str]:
    """``count`` live auctions in the baseline's own schema (created first if asked)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    ids = [str(uuid.uuid4()) for _ in range(count)]
    ends = datetime.now(UTC) + timedelta(hours=2)
    with conn.cursor() as cur:
        if create_schema:
            cur.execute(RAW_SCHEMA)
        cur.executemany("INSERT INTO bench_raw.auctions (id, seller_id, current_price, ends_at) "
                        "VALUES (%s, %s, 1000, %s)", [(i, str(uuid.uuid4()), ends) for i in ids])
    conn.close()
    return ids


#: The baselines, each run in the same stack and the same minute as the platform's run.
BASELINES = {
    "raw_postgresql": functools.partial(_raw_factory, fewest_trips=False),
    "raw_postgresql_fewest_trips": functools.partial(_raw_factory, fewest_trips=True),
    "minimal": _minimal_factory,
}


def _spread(values: list[float]) -> dict:
    """Median, lowest and highest of one figure over the repeats."""
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 3), "min": round(ordered[0], 3),
            "max": round(ordered[-1], 3), "runs": [round(v, 3) for v in values]}


def measure(stack_url: str, database: str, dsn: str, tokens: list[str], ids: list[str],
            platform_auctions: list[str], raw_auctions: list[str], concurrency: int) -> dict:
    """The platform and each baseline on one scenario, REPEATS times, interleaved (platform,
    then each baseline, then again), so that the machine's other load falls on all of them
    alike; ratios are taken per repeat, against the baseline run just after it."""
    runs = []
    for _ in range(REPEATS):
        cpu_before = process_cpu(database)
        ours = run_load(functools.partial(_platform_factory, stack_url, tokens,
                                          platform_auctions), concurrency, SECONDS)
        cpu_ms = {kind: seconds * 1000 / max(ours.requests, 1) for kind, seconds
                  in cpu_between(cpu_before, process_cpu(database)).items()}
        cpu_ms["load generator"] = ours.client_cpu_ms_per_request
        run = {"platform": ours.as_dict(), "cpu_ms_per_request": cpu_ms}
        for name, factory in BASELINES.items():
            base = run_load(functools.partial(factory, dsn, ids, raw_auctions), concurrency,
                            SECONDS)
            run[name] = base.as_dict()
            run[f"{name}_throughput_ratio"] = (ours.accepted_per_second
                                               / max(base.accepted_per_second, 1e-9))
            run[f"{name}_p99_ratio"] = ours.p99_ms / base.p99_ms
        runs.append(run)
    summary = {"platform_bids_per_second": _spread(
                   [r["platform"]["accepted_per_second"] for r in runs]),
               "platform_p50_ms": _spread([r["platform"]["p50_ms"] for r in runs]),
               "platform_p99_ms": _spread([r["platform"]["p99_ms"] for r in runs])}
    summary["platform_accepted_share"] = _spread(
        [r["platform"]["accepted"] / max(r["platform"]["requests"], 1) for r in runs])
    for name in BASELINES:
        summary[f"{name}_accepted_share"] = _spread(
            [r[name]["accepted"] / max(r[name]["requests"], 1) for r in runs])
        summary[f"{name}_per_second"] = _spread([r[name]["accepted_per_second"] for r in runs])
        summary[f"{name}_p50_ms"] = _spread([r[name]["p50_ms"] for r in runs])
        summary[f"{name}_p99_ms"] = _spread([r[name]["p99_ms"] for r in runs])
        summary[f"{name}_throughput_ratio"] = _spread(
            [r[f"{name}_throughput_ratio"] for r in runs])
        summary[f"{name}_p99_ratio"] = _spread([r[f"{name}_p99_ratio"] for r in runs])
    kinds = {kind for r in runs for kind in r["cpu_ms_per_request"]}
    cpu = {kind: round(statistics.mean(r["cpu_ms_per_request"].get(kind, 0.0) for r in runs), 2)
           for kind in kinds}
    summary["cpu_ms_per_request"] = dict(sorted(cpu.items(), key=lambda item: -item[1]))
    for r in runs:
        r["cpu_ms_per_request"] = {k: round(v, 3) for k, v in r["cpu_ms_per_request"].items()}
        for key in list(r):
            if key.endswith("_ratio"):
                r[key] = round(r[key], 3)
    return {"summary": summary, "runs": runs}


def main() -> None:
    """Run every scenario, print the table, save JSON and markdown."""
    run = uuid.uuid4().hex[:8]
    database, vhost = f"bench_{run}", f"bench_{run}"
    state = ROOT / "var" / f"bench-{run}"
    admin = _local_postgres(state)
    stack = Stack(state, gateway_port=free_port(), admin_database_url=admin, database=database,
                  vhost=vhost, web_workers=int(os.environ.get("BENCH_WEB_WORKERS", "0")) or None,
                  extra_env={"RATE_LIMIT_PER_IP": "100000/minute"})
    print("starting the local distributed shape ...", flush=True)
    stack.start()
    try:
        api = Api(stack.url)
        seller = api.register("seller")
        bidders = [api.register(f"bidder{i}") for i in range(max(CONCURRENCY))]
        widest = max(SPREADS)
        print(f"listing {widest + 1} auctions ...", flush=True)
        hot = seller.create_auction(seconds=7200, starting_price=1000)["id"]
        spread = [seller.create_auction(seconds=7200, starting_price=1000)["id"]
                  for _ in range(widest)]
        for auction in (hot, spread[-1]):
            api.wait_until_biddable(auction, timeout=120)
        wait_for(lambda: all(api.live_state(a).status_code == 200 for a in spread[::50]),
                 timeout=120, message="every auction in bidding_service")
        dsn = (make_url(admin).set(database=database, drivername="postgresql")
               .render_as_string(hide_password=False))
        raw_hot = _raw_auctions(dsn, 1, create_schema=True)
        raw_spread = _raw_auctions(dsn, widest)
        tokens = [b.tokens["access_token"] for b in bidders]
        ids = [b.id for b in bidders]
        scenarios = [("hot auction", [hot], raw_hot)] + [
            (f"{n} auctions", spread[:n], raw_spread[:n]) for n in SPREADS]
        rows = []
        for scenario, platform_auctions, raw_auctions in scenarios:
            for concurrency in CONCURRENCY:
                row = {"scenario": scenario, "concurrency": concurrency,
                       **measure(stack.url, database, dsn, tokens, ids, platform_auctions,
                                 raw_auctions, concurrency)}
                rows.append(row)
                s = row["summary"]
                print(f"{scenario:>15} c={concurrency:<3} platform "
                      f"{s['platform_bids_per_second']['median']:7.1f} bids/s (runs "
                      f"{s['platform_bids_per_second']['runs']}) p50 "
                      f"{s['platform_p50_ms']['median']} p99 {s['platform_p99_ms']['median']} ms"
                      + "".join(f" | {name} {s[f'{name}_per_second']['median']}/s ratio "
                                f"{s[f'{name}_throughput_ratio']['median']:.3f} "
                                f"[{s[f'{name}_throughput_ratio']['min']:.3f}-"
                                f"{s[f'{name}_throughput_ratio']['max']:.3f}] p99x "
                                f"{s[f'{name}_p99_ratio']['median']:.2f}"
                                for name in BASELINES), flush=True)
                print(f"      accepted share: platform {s['platform_accepted_share']['median']:.3f}"
                      + "".join(f", {name} {s[f'{name}_accepted_share']['median']:.3f}"
                                for name in BASELINES), flush=True)
                print("      CPU ms per request: " + ", ".join(
                    f"{kind} {ms}" for kind, ms in list(s["cpu_ms_per_request"].items())[:9]),
                    flush=True)
        save(rows)
    finally:
        stack.stop()
        provision.drop_database(admin, database)
        provision.delete_rabbitmq_vhost(vhost)


def _cell(spread: dict, digits: int = 2) -> str:
    if len(spread["runs"]) == 1:
        return f"{spread['median']:.{digits}f}"
    return f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}–{spread['max']:.{digits}f})"


def save(rows: list[dict]) -> None:
    """bench/results/<NAME>.json and a markdown table (median of the repeats, with the
    lowest and highest in brackets)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    meta = {"when": datetime.now(UTC).isoformat(), "seconds_per_run": SECONDS,
            "repeats": REPEATS, "bidders": CONCURRENCY, "spread_over": SPREADS,
            "cpus": os.cpu_count(), "load_average_at_end": load,
            "note": "load generator shares the machine (and so do other people's tests)"}
    (RESULTS / f"{NAME}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = ["| scenario | bidders | platform bids/s | p50 ms | p99 ms | raw PG tx/s | ratio "
             "| p99 ratio | fewest trips tx/s | ratio | p99 ratio | minimal tx/s | ratio "
             "| p99 ratio |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["summary"]
        cells = [r["scenario"], str(r["concurrency"]), _cell(s["platform_bids_per_second"], 1),
                 _cell(s["platform_p50_ms"], 1), _cell(s["platform_p99_ms"], 1)]
        for name in BASELINES:
            cells += [_cell(s[f"{name}_per_second"], 1), _cell(s[f"{name}_throughput_ratio"]),
                      _cell(s[f"{name}_p99_ratio"])]
        lines.append("| " + " | ".join(cells) + " |")
    cpu = []
    for r in rows:
        figures = ", ".join(f"{kind} {ms}" for kind, ms in r["summary"]["cpu_ms_per_request"]
                            .items() if ms >= 0.01)
        cpu.append(f"- {r['scenario']}, {r['concurrency']} bidders: {figures}")
    (RESULTS / f"{NAME}.md").write_text(
        f"# Bid path ({meta['when']}, {SECONDS:.0f} s per run, {REPEATS} runs each, "
        f"{meta['cpus']} CPUs, load average {load[0]:.1f} at the end)\n\n"
        "Median of the runs, lowest and highest in brackets; each ratio is taken per run "
        "against the baseline run right after the platform's, in the same stack.\n\n"
        + "\n".join(lines) + "\n\nAccepted share of the requests (median): "
        + "; ".join(f"{r['scenario']} {r['concurrency']}: platform "
                    f"{r['summary']['platform_accepted_share']['median']:.2f}, raw PG "
                    f"{r['summary']['raw_postgresql_accepted_share']['median']:.2f}"
                    for r in rows)
        + ". The ratios count accepted bids (the minimal transaction accepts every one)."
        "\n\nRaw PG: the same transaction statement by statement (lock, "
        "clock, decide with the engine's pure function, update, insert the bid and an outbox "
        "row, NOTIFY, commit); fewest trips: the same as the platform sends it (lock and clock "
        "in one statement, every write in one message, then the commit); minimal: lock the "
        "row, insert the bid, update the auction, commit (no decision, no event).\n\n"
        "CPU milliseconds per platform request, by process kind (mean of the runs):\n\n"
        + "\n".join(cpu) + "\n")


if __name__ == "__main__":
    main()
