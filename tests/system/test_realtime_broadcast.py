"""The real-time server's fan-out to a room (one encoded frame written straight to each
websocket watcher), on the real gevent server with real clients: every watcher gets every
event once, whole and in order, whatever the others do."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid

import pytest
import requests
import socketio
import websocket
from prometheus_client.parser import text_string_to_metric_families

from tests.support.waiting import wait_for
from tools.services import ROOT
from tools.stack import free_port

pytestmark = pytest.mark.system


@pytest.fixture
def server():
    """The real-time Socket.IO server (gevent, no bus) on a port of its own: its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.support.realtime_server", str(port)],
                               cwd=ROOT)
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(f"{url}/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, timeout=30, message="the real-time server to answer")
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


def fan_out(url: str, auction_id: str, count: int, size: int = 100,
            first_through_the_queue: bool = False) -> None:
    answer = requests.post(f"{url}/fan-out", json={
        "auction_id": auction_id, "count": count, "size": size,
        "first_through_the_queue": first_through_the_queue}, timeout=60)
    assert answer.ok, answer.text


def handed_over(url: str) -> dict[str, float]:
    """The server's count of recipients by how each was handed over."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    return {sample.labels["path"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "realtime_room_deliveries"
            for sample in family.samples if sample.name.endswith("_total")}


class Watcher:
    """python-socketio's client watching one auction, keeping each ``auction.extended``."""

    def __init__(self, url: str, auction_id: str, transports: list[str]):
        self.events: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("auction.extended", self.events.append)
        self.client.connect(url, transports=transports, wait_timeout=10)
        assert self.client.call("watch", {"auction_id": auction_id}, timeout=10)["ok"]

    def seqs(self) -> list[int]:
        return [event["seq"] for event in self.events]

    def close(self) -> None:
        self.client.disconnect()


class StalledWatcher:
    """A websocket speaking Socket.IO by hand with a tiny receive buffer, which stops reading
    once it watches (a phone in a tunnel) until ``read`` is called."""

    def __init__(self, url: str, auction_id: str):
        self.ws = websocket.create_connection(
            url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket", timeout=30,
            sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        assert self.ws.recv().startswith("0")  # Engine.IO's open
        self.ws.send("40")
        assert self.ws.recv().startswith("40")  # Socket.IO's connect
        self.ws.send("421" + json.dumps(["watch", {"auction_id": auction_id}]))
        while not (answer := self._next()).startswith("431"):
            pass
        assert json.loads(answer[3:])[0]["ok"]

    def _next(self) -> str:
        while (frame := self.ws.recv()) == "2":  # a ping: answered, as every client does
            self.ws.send("3")
        return frame

    def read(self, count: int) -> list[dict]:
        """The next ``count`` events, as they come."""
        events = []
        while len(events) < count:
            frame = self._next()
            assert frame.startswith("42"), frame[:80]
            name, data = json.loads(frame[2:])
            assert name == "auction.extended"
            events.append(data)
        return events


def test_a_watcher_who_stops_reading_delays_no_one_and_then_gets_every_event_whole_in_order(
        server):
    auction_id = str(uuid.uuid4())
    stalled = StalledWatcher(server, auction_id)
    watcher = Watcher(server, auction_id, ["websocket"])
    try:
        # 150 events of 40 kB: megabytes more than the stalled socket's buffers hold.
        fan_out(server, auction_id, count=150, size=40_000)
        wait_for(lambda: len(watcher.events) == 150, timeout=30,
                 message="every event at the watcher who reads")
        assert watcher.seqs() == list(range(1, 151))
        counts = handed_over(server)
        # The stalled socket took part of a frame, then its writer queued the rest in order.
        assert counts.get("split", 0) >= 1 and counts.get("queued", 0) >= 1, counts
        assert counts.get("written", 0) >= 150, counts

        events = stalled.read(150)
        assert [event["seq"] for event in events] == list(range(1, 151))
        assert all(event["padding"] == "x" * 40_000 for event in events)
    finally:
        watcher.close()
        stalled.ws.close()


def test_a_frame_waiting_in_a_connections_queue_goes_before_the_next_one_written_straight(
        server):
    auction_id = str(uuid.uuid4())
    watcher = Watcher(server, auction_id, ["websocket"])
    try:
        fan_out(server, auction_id, count=3, first_through_the_queue=True)
        wait_for(lambda: len(watcher.events) == 3, message="the three events")
        assert watcher.seqs() == [1, 2, 3]
    finally:
        watcher.close()


def test_a_watcher_gone_with_half_a_frame_written_leaves_the_others_served(server):
    auction_id = str(uuid.uuid4())
    stalled = StalledWatcher(server, auction_id)
    fan_out(server, auction_id, count=100, size=40_000)
    assert handed_over(server).get("split", 0) >= 1
    stalled.ws.sock.shutdown(socket.SHUT_RDWR)  # gone without a goodbye
    stalled.ws.sock.close()
    watcher = Watcher(server, auction_id, ["websocket"])
    try:
        fan_out(server, auction_id, count=20)
        wait_for(lambda: len(watcher.events) == 20, message="the events after the other left")
        assert watcher.seqs() == list(range(1, 21))
        assert requests.get(f"{server}/healthz", timeout=5).ok
    finally:
        watcher.close()


def test_watchers_on_long_polling_and_upgraded_from_it_get_every_event_in_order(server):
    auction_id = str(uuid.uuid4())
    polling = Watcher(server, auction_id, ["polling"])
    upgraded = Watcher(server, auction_id, ["polling", "websocket"])
    websocket_watcher = Watcher(server, auction_id, ["websocket"])
    watchers = (polling, upgraded, websocket_watcher)
    try:
        wait_for(lambda: upgraded.client.transport() == "websocket", message="the upgrade")
        before = handed_over(server)
        # python-socketio's client refuses a poll's answer of more than 16 packets (a browser's
        # does not): a burst it can take.
        fan_out(server, auction_id, count=12)
        for watcher in watchers:
            wait_for(lambda w=watcher: len(w.events) == 12, message="every event")
            assert watcher.seqs() == list(range(1, 13))
        after = handed_over(server)
        assert after.get("queued", 0) - before.get("queued", 0) >= 12  # the polling one's
        # the two on websocket, the upgraded one included, written straight
        assert after.get("written", 0) - before.get("written", 0) == 24
    finally:
        for watcher in watchers:
            watcher.close()
