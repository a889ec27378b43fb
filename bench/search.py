"""``python -m bench.search``: how fast the catalog searches and browses 100,000 listings.

Creates a scratch database, migrates it with auction_service's own migrations, inserts
100,000 listings directly in SQL (titles and descriptions drawn from a vocabulary with a
skewed word frequency, so that some words are common and some rare; 30 days of listings with
their read model of prices and bids), then runs the catalog's own queries (built by
``auction_service.queries.plan_search``, exactly what the API runs) under
``EXPLAIN (ANALYZE, BUFFERS)``. The baseline is the same SQL on an unindexed copy of the table
(``CREATE TABLE ... AS SELECT``: same rows, same stored tsvector, no index but the primary
key, which any table has and which the relevance query uses to fetch its page). It also times
``GET /api/auctions`` through the real Flask app (query, JSON and all) for each case, and
through the gateway of the local distributed shape (nginx and gunicorn, started on the same
database before the seed; ``BENCH_GATEWAY=0`` skips it).
Prints a table and writes bench/results/search.{json,md}; drops the database at the end
(``BENCH_KEEP=1`` keeps it to experiment with).
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from auction_common.keys import ensure_dev_keypair
from auction_common.migrations import upgrade
from auction_service import queries
from auction_service.domain import CATEGORY_IDS
from tools import provision
from tools.services import ROOT
from tools.stack import Stack, free_port

RESULTS = ROOT / "bench" / "results"
LISTINGS = int(os.environ.get("BENCH_LISTINGS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
API_RUNS = int(os.environ.get("BENCH_API_RUNS", "50"))
GATEWAY_RUNS = int(os.environ.get("BENCH_GATEWAY_RUNS", "200"))
THROUGH_GATEWAY = os.environ.get("BENCH_GATEWAY", "1") != "0"
RARE_WORD, RARE_COUNT = "zqmarker", 25

#: Auction-site words, most frequent first (the draw is skewed towards the front).
VOCABULARY = """
vintage antique camera lens watch gold silver leather wooden chair table lamp brass
oak walnut record vinyl guitar amplifier bicycle vase painting print poster book first
edition signed rare collection set pair original boxed mint condition used working tested
restored handmade ceramic porcelain glass crystal bronze copper steel iron chrome jacket
coat dress shoes boots bag wallet scarf ring necklace bracelet earrings pendant brooch
diamond pearl sapphire ruby emerald clock radio telephone typewriter sewing machine
projector film slide microscope telescope binoculars compass globe map atlas coin stamp
medal badge banknote postcard photograph album comic magazine newspaper letter manuscript
desk cabinet dresser mirror frame rug carpet tapestry quilt blanket pillow curtain
chandelier sconce candle holder teapot cup saucer plate bowl jug pitcher tray spoon fork
knife cutlery silverware kettle pan pot grinder mixer blender toaster speaker headphones
turntable cassette tape player receiver tuner console controller cartridge game puzzle toy
doll teddy bear train track car truck model kit figure lego robot drone tablet laptop
phone monitor keyboard mouse printer scanner router charger cable battery sofa bench
stool shelf bookcase wardrobe bed mattress crib stroller helmet racket skis snowboard
skateboard surfboard kayak tent sleeping backpack fishing rod reel golf club ball glove
bat jersey trophy sculpture statue bust carving mask drum violin cello flute trumpet
saxophone piano keyboard harmonica ukulele banjo mandolin harp accordion synthesizer
pedal effects tripod flash battery grip strap case bag display stand shelf hook rail
motorcycle scooter tyre wheel engine gearbox seat mirror headlight exhaust bumper door
window roof garden tool drill saw hammer wrench spanner chisel plane level ladder mower
hose sprinkler planter pot seed bulb shovel rake barrow bird feeder house fountain
statue lantern bench swing hammock parasol grill smoker oven stove fridge freezer washer
dryer vacuum iron fan heater cooler humidifier purifier scale thermometer barometer
""".split()

SEED_SQL = """
SELECT setseed(0.42);
INSERT INTO auctions.auctions (id, seller_id, title, description, category, condition,
    currency, starting_price, reserve_price, buy_now_price, increments, anti_sniping_seconds,
    starts_at, ends_at, created_at, current_price, bid_count, reserve_met, last_seq,
    watchers_count, outcome, cancelled_at, ended_at)
SELECT gen_random_uuid(), md5((g % 2000)::text)::uuid, left(title, 120), description,
       (:categories)[1 + g % cardinality(:categories)], 'used', 'EUR', price,
       CASE WHEN g % 5 = 0 THEN price * 3 END, NULL, NULL, 120,
       created, created + duration, created, price + bids * 150, bids, bids > 5, bids,
       g % 7, CASE WHEN created + duration < now() THEN
                   CASE WHEN bids > 0 THEN 'sold' ELSE 'unsold_no_bids' END END,
       CASE WHEN g % 97 = 0 THEN created + interval '1 hour' END,
       CASE WHEN created + duration < now() THEN created + duration END
FROM (
    SELECT g,
        array_to_string(ARRAY(SELECT (:words)[1 + floor(power(random(), 1.5)
                                      * cardinality(:words))::int]
                               FROM generate_series(1, 3 + (g % 6)) WHERE g > 0), ' ')
            || CASE WHEN g % (:listings / :rare_count) = 0 THEN ' ' || :rare ELSE '' END
            AS title,
        array_to_string(ARRAY(SELECT (:words)[1 + floor(power(random(), 1.5)
                                      * cardinality(:words))::int]
                               FROM generate_series(1, 15 + (g % 40)) WHERE g > 0), ' ')
            AS description,
        100 + floor(random() * 100000)::bigint AS price,
        floor(power(random(), 3) * 40)::int AS bids,
        now() - random() * interval '30 days' AS created,
        interval '1 day' * (1 + floor(random() * 10)) AS duration
    FROM generate_series(1, :listings) AS g
) AS generated;
"""


def cases(now: datetime) -> list[tuple[str, queries.Filters, str | None]]:
    """(what, filters, sort): typical searches and browses."""
    common, middling = VOCABULARY[0], VOCABULARY[60]
    f = queries.Filters
    return [
        ("browse: newly listed", f(), None),
        ("browse: a category, newly listed", f(category="electronics"), None),
        ("browse: live, ending soon", f(status="live"), "ending_soon"),
        ("browse: live, price 50-200 EUR, cheapest first",
         f(status="live", min_price=5000, max_price=20000), "price_asc"),
        ("browse: live, most bids", f(status="live"), "most_bids"),
        ("browse: one seller's listings", f(seller_id=_seller(7)), None),
        (f"search: a rare word ({RARE_WORD})", f(q=RARE_WORD), None),
        (f"search: one word ({middling})", f(q=middling), None),
        (f"search: one finished word ({middling}, then a space)", f(q=middling + " "), None),
        (f"search: two words ({middling} {VOCABULARY[61]})",
         f(q=f"{middling} {VOCABULARY[61]}"), None),
        ("search: typing a prefix (telesc)", f(q="telesc"), None),
        (f"search: the most common word ({common})", f(q=common), None),
        (f"search: the most common word, live, newly listed ({common})",
         f(q=common, status="live"), "newly_listed"),
        (f"search: one word in a category, cheapest first ({middling})",
         f(q=middling, category="electronics"), "price_asc"),
    ]


def _seller(n: int) -> uuid.UUID:
    import hashlib

    return uuid.UUID(hashlib.md5(str(n).encode()).hexdigest())


def explain(conn, sql: str, params: dict) -> dict:
    """One ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` run: times and the indexes used."""
    [[plan]] = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}",
                                    params).fetchall()
    root = plan[0]
    indexes: set[str] = set()

    def walk(node):
        if "Index Name" in node:
            indexes.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(root["Plan"])
    return {"execution_ms": root["Execution Time"], "planning_ms": root["Planning Time"],
            "indexes": sorted(indexes), "top_node": root["Plan"]["Node Type"]}


def compiled(statement, engine) -> tuple[str, dict]:
    """SQL text and driver parameters of a SQLAlchemy statement."""
    compiled_statement = statement.compile(dialect=engine.dialect)
    params = {k: str(v) if isinstance(v, uuid.UUID) else v
              for k, v in compiled_statement.params.items()}
    return str(compiled_statement), params


def measure(conn, sql: str, params: dict) -> dict:
    runs = [explain(conn, sql, params) for _ in range(RUNS + 3)][3:]  # 3 to warm the cache
    times = sorted(r["execution_ms"] for r in runs)
    return {"median_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(len(times) * 0.9) - 1], 3),
            "planning_ms": round(statistics.median(r["planning_ms"] for r in runs), 3),
            "indexes": runs[-1]["indexes"], "top_node": runs[-1]["top_node"]}


def time_api(app, filters: queries.Filters, sort: str | None) -> dict:
    """``GET /api/auctions`` through the Flask app: the whole answer, JSON included."""
    query = {k: v for k, v in vars(filters).items() if v is not None}
    if sort:
        query["sort"] = sort
    client = app.test_client()
    took = []
    for i in range(API_RUNS + 5):
        started = time.perf_counter()
        answer = client.get("/api/auctions", query_string=query)
        if i >= 5:
            took.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.get_json()
    took.sort()
    return {"p50_ms": round(statistics.median(took), 2),
            "p95_ms": round(took[int(len(took) * 0.95) - 1], 2)}


def time_gateway(base_url: str, filters: queries.Filters, sort: str | None) -> dict:
    """``GET /api/auctions`` through nginx to the gunicorn workers, one keep-alive connection
    (http.client: the client shares the machine), one request at a time."""
    query = {k: str(v) for k, v in vars(filters).items() if v is not None}
    if sort:
        query["sort"] = sort
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    path = f"/api/auctions?{urlencode(query)}"
    took = []
    try:
        for i in range(GATEWAY_RUNS + 10):
            started = time.perf_counter()
            connection.request("GET", path)
            answer = connection.getresponse()
            body = answer.read()
            if i >= 10:
                took.append((time.perf_counter() - started) * 1000)
            assert answer.status == 200, body[:500]
    finally:
        connection.close()
    took.sort()
    return {"p50_ms": round(statistics.median(took), 2),
            "p99_ms": round(took[max(0, int(len(took) * 0.99) - 1)], 2),
            "runs": len(took)}


def main() -> None:
    """Seed, measure, print, save; the scratch database is dropped whatever happens."""
    run = uuid.uuid4().hex[:8]
    state = ROOT / "var" / f"bench-search-{run}"
    if provision.postgres_answers():
        admin = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    else:
        admin = provision.start_embedded_postgres(state / "pgdata")
    database = f"bench_search_{run}"
    url = make_url(admin).set(database=database).render_as_string(hide_password=False)
    provision.ensure_database(admin, database)
    engine = create_engine(url)
    stack = None
    try:
        if THROUGH_GATEWAY:
            # Started first: it creates the services' roles and schemas and migrates them; the
            # seed then goes into the catalog's own table.
            stack = Stack(state, gateway_port=free_port(), admin_database_url=admin,
                          database=database, vhost=database,
                          extra_env={"RATE_LIMIT_PER_IP": "1000000/minute"})
            print("starting the local distributed shape ...", flush=True)
            stack.start()
        upgrade(Path(ROOT / "auction_service"), url)
        print(f"inserting {LISTINGS:,} listings ...", flush=True)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(SEED_SQL), {
                "words": VOCABULARY, "categories": sorted(CATEGORY_IDS), "listings": LISTINGS,
                "rare": RARE_WORD, "rare_count": RARE_COUNT})
            conn.exec_driver_sql("CREATE SCHEMA baseline")
            conn.exec_driver_sql("CREATE TABLE baseline.auctions AS "
                                 "SELECT * FROM auctions.auctions")
            conn.exec_driver_sql("ALTER TABLE baseline.auctions ADD PRIMARY KEY (id)")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE auctions.auctions")
            conn.exec_driver_sql("VACUUM ANALYZE baseline.auctions")
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
        app = _app(url, state)
        rows = []
        now = datetime.now(UTC)
        with engine.connect() as conn:
            conn.exec_driver_sql("SET jit = off")  # the same planner settings for both tables
            for what, filters, sort in cases(now):
                rows.append(_case(conn, engine, app, what, filters, sort, now))
            rows += _second_pages(conn, engine, app, now)
        if stack is not None:
            for row, (what, filters, sort) in zip(rows, cases(now), strict=False):
                row["gateway"] = time_gateway(stack.url, filters, sort)
                print(f"{what:<62} through the gateway: p50 {row['gateway']['p50_ms']} ms, "
                      f"p99 {row['gateway']['p99_ms']} ms", flush=True)
        save(rows)
    finally:
        if stack is not None:
            stack.stop()
            provision.delete_rabbitmq_vhost(database)
        engine.dispose()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {url}")
        else:
            provision.drop_database(admin, database)


def _case(conn, engine, app, what, filters, sort, now, cursor=None) -> dict:
    effective = sort or ("relevance" if filters.q else "newly_listed")
    plan = queries.plan_search(filters, effective, 20, cursor, now)
    sql, params = compiled(plan.statement, engine)
    count_sql, count_params = compiled(plan.count_statement, engine)
    matching = conn.exec_driver_sql(count_sql, count_params).scalar_one()
    for name, value in plan.planner.items():  # as the API sets them (both tables alike)
        conn.exec_driver_sql(f"SET {name} = {value}")
    indexed = measure(conn, sql, params)
    baseline = measure(conn, sql.replace("auctions.auctions", "baseline.auctions"), params)
    statements, every_match = 1, None
    if plan.fallback is not None:
        # What relevance cost before titles came first: every match ranked (measured in the
        # same minute, on the same table, so that the two compare on a shared machine).
        all_sql, all_params = compiled(plan.fallback, engine)
        every_match = measure(conn, all_sql, all_params)
    if plan.fallback is not None and len(conn.exec_driver_sql(sql, params).fetchall()) <= 20:
        # The title matches did not fill the page: the API runs the query over every match
        # too (the unindexed copy has no title_vector index: it runs that one only).
        statements = 2
        fallback_sql, fallback_params = compiled(plan.fallback, engine)
        second = measure(conn, fallback_sql, fallback_params)
        indexed = {**second, "median_ms": round(indexed["median_ms"] + second["median_ms"], 3),
                   "p90_ms": round(indexed["p90_ms"] + second["p90_ms"], 3),
                   "indexes": sorted({*indexed["indexes"], *second["indexes"]})}
        baseline = measure(conn, fallback_sql.replace("auctions.auctions", "baseline.auctions"),
                           fallback_params)
    for name in plan.planner:
        conn.exec_driver_sql(f"RESET {name}")
    api = time_api(app, filters, sort) if cursor is None else None
    row = {"case": what, "sort": effective, "matching": matching, "indexed": indexed,
           "unindexed": baseline,
           "speedup": round(baseline["median_ms"] / max(indexed["median_ms"], 1e-3), 1),
           "api": api, "planner": plan.planner, "sql": sql, "statements": statements,
           "every_match_ranked": every_match}
    print(f"{what:<62} {matching:>6} rows | {indexed['median_ms']:8.3f} ms vs "
          f"{baseline['median_ms']:8.2f} ms unindexed (x{row['speedup']}) | API p50 "
          f"{api['p50_ms'] if api else '-'} ms | {','.join(indexed['indexes']) or '-'}",
          flush=True)
    return row


def _second_pages(conn, engine, app, now) -> list[dict]:
    """Keyset pages: the second page costs what the first does."""
    rows = []
    for what, filters, sort in (("page 2: newly listed", queries.Filters(), "newly_listed"),
                                (f"page 2: search the most common word ({VOCABULARY[0]})",
                                 queries.Filters(q=VOCABULARY[0]), "relevance")):
        with Session(engine) as session:
            _, cursor, _ = queries.search(session, filters, sort, 20, None, now)
        rows.append(_case(conn, engine, app, what, filters, sort, now, cursor))
    return rows


def _app(url: str, state: Path):
    from auction_service.app import create_app
    from auction_service.settings import AuctionSettings

    _, public_key = ensure_dev_keypair(state / "keys")
    settings = AuctionSettings(database_url=url, event_bus="inprocess",
                               jwt_public_key_file=public_key, log_json=False,
                               media_root=state / "media")
    return create_app(settings)


def save(rows: list[dict]) -> None:
    """bench/results/search.json and a markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"when": datetime.now(UTC).isoformat(), "listings": LISTINGS, "runs": RUNS,
            "api_runs": API_RUNS, "cpus": os.cpu_count(), "page_size": 20,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "note": "EXPLAIN (ANALYZE, BUFFERS) execution time, median of the runs after 3 "
                    "warm-ups; unindexed = the same SQL on a CREATE TABLE AS copy with only "
                    "its primary key; "
                    "every match ranked = the same page found by ranking every match (what "
                    "relevance did before the title matches came first), measured alongside; "
                    "indexed = what the API runs (both statements when the title matches do "
                    "not fill the page); "
                    "API = GET /api/auctions through the Flask test client, query to JSON; "
                    "gateway = the same through nginx and the gunicorn workers of the local "
                    f"distributed shape, {GATEWAY_RUNS} requests one at a time"}
    (RESULTS / "search.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = ["| case | sort | matching rows | indexed ms (median) | unindexed ms | speed-up "
             "| every match ranked ms | API p50 ms | API p95 ms | gateway p50 ms "
             "| gateway p99 ms | indexes used |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        api, gateway = r["api"] or {}, r.get("gateway") or {}
        share = f"{r['matching'] / LISTINGS:.1%}"
        lines.append(f"| {r['case']} | {r['sort']} | {r['matching']:,} ({share}) | "
                     f"{r['indexed']['median_ms']} | {r['unindexed']['median_ms']} | "
                     f"x{r['speedup']} | "
                     f"{(r['every_match_ranked'] or {}).get('median_ms', '–')} | "
                     f"{api.get('p50_ms', '–')} | {api.get('p95_ms', '–')} | "
                     f"{gateway.get('p50_ms', '–')} | {gateway.get('p99_ms', '–')} | "
                     f"{', '.join(r['indexed']['indexes']) or '–'} |")
    (RESULTS / "search.md").write_text(
        f"# Catalog search ({meta['when']}, {LISTINGS:,} listings, {meta['cpus']} CPUs, "
        f"load average {meta['load_average_1m']})\n\n"
        f"{meta['note']}.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
