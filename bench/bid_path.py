"""``python -m bench.bid_path``: accepted bids per second and latency on the bid path.

Starts the local distributed shape (nginx, gunicorn services, RabbitMQ, PostgreSQL) on its own
database, then for 1, 4, 16 and 64 concurrent bidders measures POST /api/bids through the
gateway on one hot auction and spread over 1,000 auctions, beside raw PostgreSQL doing the
same transaction (lock the row, read the clock, update it, insert the bid and an outbox row,
NOTIFY, commit) from the same machine in the same run. Every accepted bid is durable before
its 201 (synchronous commit is left on). Writes bench/results/bid_path.{json,md}.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
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

from .load import run_load

RESULTS = ROOT / "bench" / "results"
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,4,16,64").split(",")]
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
SPREAD = int(os.environ.get("BENCH_AUCTIONS", "1000"))
T0 = time.time()
STARTED = datetime(2020, 1, 1, tzinfo=UTC)


def rising_amount(client: int) -> int:
    """Amounts that keep rising faster than the increments, so most bids are acceptable."""
    return 100_000 + int((time.time() - T0) * 20_000_000) + client


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


def _raw_factory(dsn: str, bidders: list[str], auctions: list[str], fewest_trips: bool = False):
    """The same transaction in raw psycopg2: lock the row, read the clock, decide with the
    engine's own pure function, update the row, insert the bid and an outbox row, NOTIFY,
    commit. Statement by statement (as a plain client writes it), or with ``fewest_trips`` the
    way the platform sends it (lock and clock in one statement, every write in one message,
    then the commit): the tighter baseline."""
    local = threading.local()

    def make_request(client: int, sequence: int) -> bool:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg2.connect(dsn)
        auction = auctions[(client * 7919 + sequence) % len(auctions)]
        bidder, amount = bidders[client % len(bidders)], rising_amount(client)
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


def _process_cpu() -> dict[str, float]:
    """CPU seconds used so far by each kind of process on the machine that serves the stack
    (its processes, the database, the broker, the gateway), to show what bounds throughput."""
    import psutil

    totals: dict[str, float] = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            command = " ".join(process.info["cmdline"] or [])
            name = process.info["name"] or ""
            if name.startswith("postgres"):
                kind = "postgresql"
            elif name.startswith("nginx"):
                kind = "nginx"
            elif "beam" in name:
                kind = "rabbitmq"
            elif "gunicorn" in command:
                kind = "web " + command.rsplit(" ", 1)[-1].split(".")[0]
            elif " -m " in command and ("_service" in command or "mailsink" in command):
                kind = command.split(" -m ", 1)[1].split(" --")[0]
            else:
                continue
            times = process.cpu_times()
            totals[kind] = totals.get(kind, 0.0) + times.user + times.system
        except psutil.Error:
            continue
    return totals


def main() -> None:
    """Run every scenario, print the table, save JSON and markdown."""
    run = uuid.uuid4().hex[:8]
    database, vhost = f"bench_{run}", f"bench_{run}"
    state = ROOT / "var" / f"bench-{run}"
    admin = _local_postgres(state)
    stack = Stack(state, gateway_port=free_port(), admin_database_url=admin, database=database,
                  vhost=vhost, web_workers=int(os.environ.get("BENCH_WEB_WORKERS", "2")),
                  extra_env={"RATE_LIMIT_PER_IP": "100000/minute"})
    print("starting the local distributed shape ...", flush=True)
    stack.start()
    try:
        api = Api(stack.url)
        seller = api.register("seller")
        bidders = [api.register(f"bidder{i}") for i in range(max(CONCURRENCY))]
        print(f"listing {SPREAD + 1} auctions ...", flush=True)
        hot = seller.create_auction(seconds=7200, starting_price=1000)["id"]
        spread = [seller.create_auction(seconds=7200, starting_price=1000)["id"]
                  for _ in range(SPREAD)]
        for auction in (hot, spread[-1]):
            api.wait_until_biddable(auction, timeout=120)
        wait_for(lambda: all(api.live_state(a).status_code == 200 for a in spread[::50]),
                 timeout=120, message="every auction in bidding_service")
        dsn = (make_url(admin).set(database=database, drivername="postgresql")
               .render_as_string(hide_password=False))
        raw_hot = _raw_auctions(dsn, 1, create_schema=True)
        raw_spread = _raw_auctions(dsn, SPREAD)
        tokens = [b.tokens["access_token"] for b in bidders]
        ids = [b.id for b in bidders]
        rows = []
        for scenario, platform_auctions, raw_auctions in (
                ("hot auction", [hot], raw_hot), (f"{SPREAD} auctions", spread, raw_spread)):
            for concurrency in CONCURRENCY:
                cpu_before = _process_cpu()
                ours = run_load(functools.partial(_platform_factory, stack.url, tokens,
                                                  platform_auctions), concurrency, SECONDS)
                cpu_after = _process_cpu()
                cpu_ms = {kind: round((cpu_after[kind] - cpu_before.get(kind, 0.0)) * 1000
                                      / max(ours.requests, 1), 2) for kind in cpu_after}
                raw = run_load(functools.partial(_raw_factory, dsn, ids, raw_auctions),
                               concurrency, SECONDS)
                tight = run_load(functools.partial(_raw_factory, dsn, ids, raw_auctions,
                                                   fewest_trips=True), concurrency, SECONDS)
                row = {"scenario": scenario, "concurrency": concurrency,
                       "platform": ours.as_dict(), "raw_postgresql": raw.as_dict(),
                       "raw_postgresql_fewest_trips": tight.as_dict(),
                       "throughput_ratio": round(ours.accepted_per_second
                                                 / max(raw.accepted_per_second, 1e-9), 3),
                       "p99_ratio": round(ours.p99_ms / raw.p99_ms, 2),
                       "throughput_ratio_fewest_trips": round(
                           ours.accepted_per_second / max(tight.accepted_per_second, 1e-9), 3),
                       "p99_ratio_fewest_trips": round(ours.p99_ms / tight.p99_ms, 2),
                       "cpu_ms_per_request": dict(sorted(cpu_ms.items(),
                                                         key=lambda item: -item[1]))}
                rows.append(row)
                print(f"{scenario:>15} c={concurrency:<3} platform {ours.accepted_per_second:7.1f}"
                      f" bids/s p50 {ours.p50_ms:6.1f} ms p99 {ours.p99_ms:7.1f} ms | raw PG "
                      f"{raw.accepted_per_second:7.1f} tx/s p99 {raw.p99_ms:6.1f} ms, fewest "
                      f"trips {tight.accepted_per_second:7.1f} tx/s p99 {tight.p99_ms:6.1f} ms | "
                      f"ratios {row['throughput_ratio']:.2f} / "
                      f"{row['throughput_ratio_fewest_trips']:.2f} (errors {ours.errors})",
                      flush=True)
                print("      CPU ms per request: " + ", ".join(
                    f"{kind} {ms}" for kind, ms in list(row["cpu_ms_per_request"].items())[:8]),
                    flush=True)
        save(rows)
    finally:
        stack.stop()
        provision.drop_database(admin, database)
        provision.delete_rabbitmq_vhost(vhost)


def save(rows: list[dict]) -> None:
    """bench/results/bid_path.json and a markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"when": datetime.now(UTC).isoformat(), "seconds_per_run": SECONDS,
            "cpus": os.cpu_count(), "note": "load generator shares the machine"}
    (RESULTS / "bid_path.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = ["| scenario | bidders | platform bids/s | p50 ms | p99 ms | raw PG tx/s | raw p99 ms "
             "| throughput ratio | p99 ratio | raw PG, fewest trips: tx/s | p99 ms "
             "| throughput ratio | p99 ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p, b, t = r["platform"], r["raw_postgresql"], r["raw_postgresql_fewest_trips"]
        lines.append(f"| {r['scenario']} | {r['concurrency']} | {p['accepted_per_second']} | "
                     f"{p['p50_ms']} | {p['p99_ms']} | {b['accepted_per_second']} | {b['p99_ms']} "
                     f"| {r['throughput_ratio']} | {r['p99_ratio']} | "
                     f"{t['accepted_per_second']} | {t['p99_ms']} | "
                     f"{r['throughput_ratio_fewest_trips']} | {r['p99_ratio_fewest_trips']} |")
    hot = [r for r in rows if r["scenario"] == "hot auction"]
    busiest = next((r for r in hot if r["concurrency"] == 16), hot[-1])
    cpu = ", ".join(f"{kind} {ms}" for kind, ms in busiest["cpu_ms_per_request"].items() if ms)
    (RESULTS / "bid_path.md").write_text(
        f"# Bid path ({meta['when']}, {SECONDS:.0f} s per run, {meta['cpus']} CPUs)\n\n"
        + "\n".join(lines) + "\n\nRaw PG: the same transaction statement by statement; fewest "
        "trips: as the platform sends it (lock and clock in one statement, every write in one "
        "message, then the commit).\n\nCPU milliseconds per request, by "
        "process kind, on the hot "
        f"auction with {busiest['concurrency']} bidders: {cpu}.\n")


if __name__ == "__main__":
    main()
