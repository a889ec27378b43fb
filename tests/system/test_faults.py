"""Breaking the platform on purpose, under a bid storm, and checking that it heals itself and
loses nothing it acknowledged.

One private stack (``make up``'s shape on a PostgreSQL and a RabbitMQ node of this test's own)
goes through every fault once, in this order, while careful bidders keep bidding on several
auctions and a live client watches one of them: the SMTP sink goes down for a minute; meanwhile
every kind of process is killed with SIGKILL in turn (each service's web process and worker,
the realtime process, the frontend, the gateway); RabbitMQ is stopped for 20 s and started
again; PostgreSQL is restarted, then stopped for a few seconds and started. The tests below
then each check one promise on what was recorded. ``FAULTS_REPORT=<file>`` writes the figures
(docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
import requests
from sqlalchemy.engine import make_url

from mailsink.store import Mailbox
from tests.support.api import Api
from tests.support.faults import (
    LiveWatcher,
    PrivatePostgres,
    PrivateRabbit,
    Storm,
    status_counts,
)
from tests.support.waiting import wait_for
from tools.stack import Stack, free_port

pytestmark = [pytest.mark.system, pytest.mark.faults]

BIDDERS, AUCTIONS = 10, 4
SMTP_DOWN_SECONDS, BROKER_DOWN_SECONDS, DATABASE_DOWN_SECONDS = 60, 20, 4
SERVICES = ("user_service", "auction_service", "bidding_service", "notification_service")
READY = {"user_service": "/api/auth/readyz", "auction_service": "/api/auctions/readyz",
         "bidding_service": "/api/bids/readyz",
         "notification_service": "/api/notifications/readyz"}
#: Each process kind, and what answers once it is back.
KILLED = [*[(f"{s}-web", READY[s]) for s in SERVICES],
          *[(f"{s}-worker", None) for s in SERVICES],
          ("bidding-realtime", "realtime"), ("frontend", "/"), ("gateway", "/")]
#: consumer (inbox), its service's schema, the schema whose outbox feeds it, the event types.
CONSUMERS = [
    ("auction_service.read_model", "auctions", "bidding",
     ["bid.placed", "auction.extended", "auction.ended"]),
    ("bidding_service.catalog", "bidding", "auctions",
     ["auction.created", "auction.updated", "auction.cancelled"]),
    ("bidding_service.users", "bidding", "users", ["user.registered", "user.updated"]),
    ("notification_service.notify", "notifications", "bidding", ["bid.outbid"]),
    ("notification_service.notify", "notifications", "users", ["user.registered"]),
]


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


class Faults:
    """Runs the faults in order and keeps what was observed."""

    def __init__(self, stack: Stack, storm: Storm, rabbit: PrivateRabbit,
                 postgres: PrivatePostgres):
        self.stack, self.storm, self.rabbit, self.postgres = stack, storm, rabbit, postgres
        self.recovery: dict[str, float] = {}
        self.probes: dict[str, list[dict]] = {}
        self.smtp_down_at: float | None = None

    def phase(self, name: str) -> None:
        self.storm.phase = name

    def storm_moves(self, more: int = 3, timeout: float = 60, phase: str | None = None) -> None:
        """Wait until the storm has had ``more`` bids accepted since now (answered in
        ``phase`` if given: a bid sent before it and answered after counts for the one
        before)."""
        target = self.storm.accepted(phase) + more
        wait_for(lambda: self.storm.accepted(phase) >= target, timeout, interval=0.1,
                 message=f"{more} more accepted bids")

    def smtp_down(self) -> None:
        self.stack.stop_process("mailsink")
        self.smtp_down_at = time.monotonic()

    def smtp_back_if_due(self, wait: bool = False) -> None:
        if self.smtp_down_at is None:
            return
        due = self.smtp_down_at + SMTP_DOWN_SECONDS
        if wait:
            wait_for(lambda: time.monotonic() >= due, SMTP_DOWN_SECONDS + 5, interval=0.5,
                     message="the end of the SMTP outage")
        if time.monotonic() >= due:
            self.stack.start_process("mailsink")
            self.recovery["smtp sink down (s)"] = round(time.monotonic() - self.smtp_down_at, 1)
            self.smtp_down_at = None

    def kill(self, name: str, ready: str | None) -> None:
        """SIGKILL the process; wait until its supervisor has it back and it answers."""
        self.phase(f"kill {name}")
        pid = self.stack.pid_of(name)
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)

        def back() -> bool:
            try:
                if self.stack.pid_of(name, timeout=0) == pid:
                    return False
            except RuntimeError:
                return False
            if ready == "realtime":
                return all(_ok(f"{url}/healthz") for url in self.stack.realtime_urls)
            return ready is None or _ok(self.stack.url + ready)

        wait_for(back, 120, interval=0.1, message=f"{name} back after kill -9")
        self.recovery[f"kill -9 {name} (s)"] = round(time.monotonic() - killed_at, 1)
        self.storm_moves()

    def broker_outage(self) -> None:
        self.phase("rabbitmq down")
        stopped_at = time.monotonic()
        self.rabbit.stop()
        accepted = self.storm.accepted()
        readiness = requests.get(self.stack.url + READY["bidding_service"], timeout=10)
        self.probes["readiness, broker down"] = [{
            "status": readiness.status_code, "retry_after": readiness.headers.get("Retry-After"),
            "body": readiness.json()}]
        wait_for(lambda: time.monotonic() - stopped_at >= BROKER_DOWN_SECONDS,
                 BROKER_DOWN_SECONDS + 60, interval=0.5, message="20 s of broker outage")
        self.probes["accepted while the broker was down"] = [
            {"bids": self.storm.accepted() - accepted}]
        self.phase("rabbitmq starting")
        self.rabbit.start()
        wait_for(lambda: all(_ok(self.stack.url + path) for path in READY.values()), 120,
                 interval=0.2, message="every service ready again")
        self.recovery["rabbitmq stopped 20 s, until all ready (s)"] = round(
            time.monotonic() - stopped_at, 1)
        self.storm_moves()

    def database_restart(self) -> None:
        self.phase("postgresql restart")
        started = time.monotonic()
        self.postgres.restart()
        wait_for(lambda: all(_ok(self.stack.url + path) for path in READY.values()), 60,
                 interval=0.1, message="every service ready after the restart")
        self.recovery["postgresql restart, until all ready (s)"] = round(
            time.monotonic() - started, 1)
        self.storm_moves()

    def database_outage(self, auction_id: str, bidder) -> None:
        self.phase("postgresql down")
        stopped_at = time.monotonic()
        self.postgres.stop()
        probes = []
        for method, path, body in [
                ("GET", f"/api/auctions/{auction_id}", None),
                ("GET", f"/api/bids/auctions/{auction_id}", None),
                ("POST", "/api/bids", {"auction_id": auction_id, "amount": 10**9}),
                ("GET", READY["bidding_service"], None)]:
            sent = time.monotonic()
            answer = requests.request(method, self.stack.url + path, json=body, timeout=30,
                                      headers={**bidder.headers, "Idempotency-Key": "probe"})
            probes.append({"request": f"{method} {path}", "status":
                           answer.status_code, "retry_after": answer.headers.get("Retry-After"),
                           "seconds": round(time.monotonic() - sent, 2),
                           "body": answer.json()})
        self.probes["postgresql down"] = probes
        wait_for(lambda: time.monotonic() - stopped_at >= DATABASE_DOWN_SECONDS,
                 DATABASE_DOWN_SECONDS + 30, interval=0.2, message="the database outage")
        self.phase("postgresql starting")
        self.postgres.start()
        wait_for(lambda: all(_ok(self.stack.url + path) for path in READY.values()), 60,
                 interval=0.1, message="every service ready after the outage")
        self.recovery[f"postgresql stopped {DATABASE_DOWN_SECONDS} s, until all ready (s)"] = \
            round(time.monotonic() - stopped_at, 1)
        self.storm_moves()


@pytest.fixture(scope="module")
def faulted(run_id):
    """Start the private stack, run the storm through every fault, let it settle; yield what
    was observed and a way to read the private database."""
    base = Path(tempfile.mkdtemp(prefix="auction-faults-"))
    base.chmod(0o755)
    rabbit = PrivateRabbit(base / "rabbitmq")
    postgres = PrivatePostgres(base / "pgdata")
    stack = Stack(base / "stack", gateway_port=free_port(), admin_database_url=postgres.admin_url,
                  database="faults", amqp_url=rabbit.url, web_workers=1, realtime_instances=1,
                  extra_env={"RATE_LIMIT_PER_IP": "100000/minute", "OUTBID_QUIET_SECONDS": "0",
                             "CONSUMER_BATCH_WAIT_MS": "5"})
    watcher = None
    try:
        rabbit.start()
        stack.start()
        api = Api(stack.url)
        seller = api.register("seller")
        bidders = [api.register(f"careful{i}") for i in range(BIDDERS)]
        auctions = [seller.create_auction(seconds=3600, starting_price=1000,
                                          anti_sniping_seconds=0, title=f"Lot {i}")
                    for i in range(AUCTIONS)]
        for auction in auctions:
            api.wait_until_biddable(auction["id"], timeout=30)
        watcher = LiveWatcher(stack.url, auctions[0]["id"])
        storm = Storm(stack.url, bidders, auctions)
        faults = Faults(stack, storm, rabbit, postgres)
        began = time.monotonic()
        storm.start()
        faults.storm_moves(20)
        faults.smtp_down()
        for name, ready in KILLED:
            faults.kill(name, ready)
            faults.smtp_back_if_due()
        faults.smtp_back_if_due(wait=True)
        faults.broker_outage()
        faults.database_restart()
        faults.database_outage(auctions[1]["id"], bidders[0])
        faults.phase("after recovery")
        faults.storm_moves(40, phase="after recovery")
        storm.stop()
        # The last word on the watched auction comes after the storm: it must reach the page.
        last = bidders[0].bid(auctions[0]["id"], 10**8, key="the-last-bid")
        assert last.status_code == 201, last.text
        observed = {"stack": stack, "api": api, "storm": storm, "faults": faults,
                    "watcher": watcher, "auctions": auctions, "rabbit": rabbit,
                    "admin_url": postgres.admin_url, "last_bid": last.json(),
                    "seconds": round(time.monotonic() - began, 1)}
        yield observed
        report = os.environ.get("FAULTS_REPORT")
        if report:
            Path(report).write_text(json.dumps(_figures(observed), indent=2, default=str))
    finally:
        if watcher is not None:
            watcher.close()
        stack.stop()
        rabbit.stop()
        postgres.close()
        shutil.rmtree(base, ignore_errors=True)


def _query(observed, sql: str, *params):
    url = make_url(observed["admin_url"]).set(database="faults", drivername="postgresql")
    with psycopg2.connect(url.render_as_string(hide_password=False)) as conn:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()


def _figures(observed) -> dict:
    storm, faults = observed["storm"], observed["faults"]
    attempts = storm.attempts()
    by_phase: dict[str, dict] = {}
    for attempt in attempts:
        by_phase.setdefault(attempt.phase, {}).setdefault(
            str(attempt.status or "broken"), 0)
        by_phase[attempt.phase][str(attempt.status or "broken")] += 1
    return {"seconds": observed["seconds"], "bids": len(storm.outcomes),
            "accepted": storm.accepted(), "tries": len(attempts),
            "statuses": dict(status_counts(attempts)), "by_phase": by_phase,
            "recovery": faults.recovery, "probes": faults.probes,
            "watcher": {"live": len(observed["watcher"].live),
                        "caught_up": len(observed["watcher"].caught_up - observed["watcher"].live),
                        "signals": dict(observed["watcher"].signals)},
            **observed.get("settled", {})}


def test_every_fault_is_survived_and_no_bid_was_left_without_an_answer(faulted):
    storm = faulted["storm"]
    unanswered = [o for o in storm.outcomes if o.status is None]
    assert not unanswered, f"{len(unanswered)} bids never got an answer"
    assert {o.status for o in storm.outcomes} <= {201, 422}, "only accepted or too low"
    assert storm.accepted("after recovery") >= 40


def test_no_500_ever_and_every_503_says_when_to_retry(faulted):
    attempts = faulted["storm"].attempts()
    assert not [a for a in attempts if a.status == 500], status_counts(attempts)
    assert all(a.retry_after for a in attempts if a.status == 503)
    after = [a for a in attempts if a.phase == "after recovery"]
    assert after and all(a.status in (201, 422) for a in after), status_counts(after)


def test_an_outage_answers_503_with_retry_after_fast_and_bids_go_on_without_the_broker(faulted):
    probes = faulted["faults"].probes
    for probe in probes["postgresql down"]:
        assert probe["status"] == 503 and probe["retry_after"], probe
        assert probe["seconds"] < 10, "fast, not a hang"
        if "checks" in probe["body"]:  # readiness names what is missing
            assert probe["body"]["checks"]["database"].startswith("unavailable"), probe
        else:
            assert probe["body"]["error"]["code"] == "service_unavailable", probe
    readiness = probes["readiness, broker down"][0]
    assert readiness["status"] == 503 and readiness["retry_after"]
    assert readiness["body"]["checks"]["broker"].startswith("unavailable")
    assert probes["accepted while the broker was down"][0]["bids"] > 0


def test_every_201_is_stored_exactly_once_and_no_key_made_two_bids(faulted):
    storm = faulted["storm"]
    accepted = [o for o in storm.outcomes if o.status == 201]
    assert all(len(o.bid_ids) == 1 for o in accepted), "a retried key answered another bid"
    acknowledged = {bid for o in accepted for bid in o.bid_ids}
    auction_ids = [a["id"] for a in faulted["auctions"]]
    stored = _query(faulted, "SELECT id::text FROM bidding.bids WHERE auction_id::text = ANY(%s)"
                    " AND id::text <> %s", auction_ids, faulted["last_bid"]["bid_id"])
    stored_ids = [row[0] for row in stored]
    assert len(stored_ids) == len(set(stored_ids))
    assert set(stored_ids) == acknowledged, "every 201 stored, nothing stored unacknowledged"


def test_every_event_is_applied_and_the_catalog_equals_bidding(faulted):
    api = faulted["api"]
    for auction in faulted["auctions"]:
        def same(auction_id=auction["id"]):
            live, listing = api.live_state(auction_id), api.get(f"/api/auctions/{auction_id}")
            if live.status_code != 200 or listing.status_code != 200:
                return False
            return ((listing.json()["current_price"], listing.json()["bid_count"])
                    == (live.json()["current_price"], live.json()["bid_count"]))

        wait_for(same, 120, interval=0.5, message=f"the catalog's copy of {auction['id']}")
    wait_for(lambda: not _query(faulted, "SELECT 1 FROM bidding.outbox WHERE published_at IS NULL"
                                " UNION ALL SELECT 1 FROM notifications.outbox"
                                " WHERE published_at IS NULL"), 60, interval=0.5,
             message="every outbox row published")
    missing = {}
    for consumer, schema, source, types in CONSUMERS:
        def unapplied(consumer=consumer, schema=schema, source=source, types=types):
            return _query(faulted, f"""SELECT count(*) FROM "{source}".outbox o
                WHERE o.type = ANY(%s) AND NOT EXISTS (SELECT 1 FROM "{schema}".inbox i
                WHERE i.consumer = %s AND i.event_id = o.id)""", types, consumer)[0][0]

        wait_for(lambda u=unapplied: u() == 0, 120, interval=0.5,
                 message=f"{consumer} to apply every event")
        produced = _query(faulted, f'SELECT count(*) FROM "{source}".outbox WHERE type = ANY(%s)',
                          types)[0][0]
        missing[f"{consumer} <- {source} {','.join(types)}"] = produced
    faulted.setdefault("settled", {})["events produced and applied"] = missing
    depths = faulted["rabbit"].queue_depths(
        [f"{consumer}.dlq" for consumer, *_ in CONSUMERS])
    assert not any(depths.values()), f"dead letters: {depths}"


def test_every_email_arrives_exactly_once_in_the_mailbox(faulted):
    """Every delivery is in the mailbox once, and nothing else is. The SMTP server itself may
    have been given one again: a kill -9 of the worker between the server accepting it and
    the delivery being recorded cannot be told apart from a send that never happened (a
    database that goes away in that moment can: the worker remembers what the server took).
    Sent again, it carries the same Message-ID, which the mailbox — like the big providers —
    shows once; the figures count how often the server was given a copy."""
    def settled():
        return not _query(faulted, "SELECT 1 FROM notifications.email_deliveries"
                                   " WHERE status = 'pending'")

    wait_for(settled, 180, interval=1, message="every email delivery settled")
    deliveries = _query(faulted, "SELECT id::text, status FROM notifications.email_deliveries")
    assert deliveries and {status for _, status in deliveries} == {"sent"}
    mailbox = Mailbox(faulted["stack"].state_dir / "mailbox.jsonl")
    shown = [item["message_id"].strip("<>").split("@")[0] for item in mailbox.items()]
    copies = len(mailbox.received())
    faulted.setdefault("settled", {})["emails"] = {
        "deliveries": len(deliveries), "in the mailbox": len(shown),
        "given to the SMTP server": copies, "given again": copies - len(shown)}
    assert sorted(shown) == sorted(i for i, _ in deliveries), \
        "each delivery is in the mailbox once, nothing else is"
    assert copies - len(shown) <= 3, \
        f"the server was given {copies - len(shown)} emails again: more than a crash or two"


def test_the_live_page_misses_nothing_across_reconnects_and_the_broker_restart(faulted):
    watcher, api = faulted["watcher"], faulted["api"]
    auction_id = faulted["auctions"][0]["id"]
    final_seq = api.live_state(auction_id).json()["seq"]
    history, after = set(), 0
    while True:
        page = api.get(f"/api/bids/auctions/{auction_id}/history",
                       params={"after_seq": after, "limit": 200}).json()
        history |= {item["seq"] for item in page["items"]}
        if not page["next_cursor"]:
            break
        after = int(page["next_cursor"])
    assert max(history) == final_seq
    wait_for(lambda: watcher.seen >= history, 60, interval=0.2,
             message="the page to hold every seq (live, or caught up after a signal)")
    assert watcher.signals["resync"] >= 1, "told to resync after the broker came back"
    assert watcher.live, "most arrive live"


def test_stopping_the_stack_leaves_nothing_running(faulted):
    stack = faulted["stack"]
    pids = [stack.pid_of(name) for name in stack.processes]
    supervisors = [process.pid for process in stack.processes.values()]
    stack.stop()
    for pid in pids + supervisors:
        wait_for(lambda pid=pid: not _running(pid), 15, interval=0.1,
                 message=f"process {pid} to stop")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists() and "Z" not in Path(
            f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
