"""``make run``'s one-process mode: the same story, a clean stop, data that survives."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from tests.support.api import Api
from tests.support.waiting import wait_for
from tools.services import ROOT
from tools.stack import free_port

from .flow import check_api_docs, run_auction_story
from .races import seller_and_bidder_race

pytestmark = pytest.mark.embedded


def start_embedded(var_dir, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"VAR_DIR": str(var_dir), "PORT": str(port), "PYTHONPATH": str(ROOT)})
    # A process group of its own, as a terminal gives `make run`: Ctrl-C signals all of it.
    process = subprocess.Popen([sys.executable, "-m", "tools.embedded"], cwd=ROOT, env=env,
                               stdout=open(var_dir / "embedded.log", "ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)

    def healthy():
        assert process.poll() is None, (var_dir / "embedded.log").read_text()[-3000:]
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(healthy, timeout=60, interval=0.2, message="the embedded platform to start")
    return process


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    return process.wait(timeout=30)


@pytest.fixture
def var_dir():
    """A data folder outside pytest's private temp root: the database server runs as its own
    system user and must be able to reach it."""
    path = Path(tempfile.mkdtemp(prefix="auction-embedded-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_embedded_mode_runs_the_story_stops_cleanly_and_keeps_its_data(var_dir):
    tmp_path = var_dir
    port = free_port()
    process = start_embedded(tmp_path, port)
    try:
        story = run_auction_story(f"http://127.0.0.1:{port}")
        page = requests.get(f"http://127.0.0.1:{port}/mailbox", timeout=10)
        assert page.status_code == 200 and "outbid" in page.text.lower()
        # A seller and a bidder at the same moment: one consistent outcome every round.
        first = seller_and_bidder_race(f"http://127.0.0.1:{port}", rounds=4)
        assert sum(first.values()) == 12
    finally:
        exit_code = stop(process)
    assert exit_code == 0
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists(), "the database stopped too"

    process = start_embedded(tmp_path, port)
    try:
        api = Api(f"http://127.0.0.1:{port}")
        listing = api.get(f"/api/auctions/{story['auction']['id']}")
        assert listing.status_code == 200
        assert listing.json()["current_price"] == 3100
        assert wait_for(lambda: api.mailbox(), message="caught mail kept across restarts")
        check_api_docs(f"http://127.0.0.1:{port}")
    finally:
        assert stop(process) == 0


def _bid_until_stopped(api: Api, auction_id: str, bidders, minimum: int = 20) -> list[str]:
    """Bidders bid in threads until the server goes away; returns once ``minimum`` bids were
    accepted, with the list of accepted bid ids still growing."""
    accepted = []

    def bid_on(bidder, amount):
        while True:
            try:
                answer = bidder.bid(auction_id, amount)
            except requests.RequestException:
                return  # the server has stopped
            if answer.status_code == 201:
                accepted.append(answer.json()["bid_id"])
            amount += 400

    start = api.live_state(auction_id).json()["min_next_bid"]
    for i, bidder in enumerate(bidders):
        threading.Thread(target=bid_on, args=(bidder, start + i * 100), daemon=True).start()
    wait_for(lambda: len(accepted) >= minimum, timeout=60, message="bids flowing")
    return accepted


def _stop_group(process: subprocess.Popen, signum: int, var_dir: Path) -> None:
    """Signal the whole process group, as a terminal's Ctrl-C (SIGINT) or a process manager
    (SIGTERM) does; everything stops within 10 s, cleanly, the database server included."""
    os.killpg(process.pid, signum)
    exit_code = process.wait(timeout=10)
    log = (var_dir / "embedded.log").read_text()
    assert exit_code == 0, log[-3000:]
    assert "KeyboardInterrupt" not in log and "Traceback" not in log, log[-3000:]
    assert not (var_dir / "pgdata" / "postmaster.pid").exists(), "the database stopped too"


def _auction_in_a_storm(api: Api, minimum: int = 20) -> tuple[dict, list, list[str]]:
    """A seller's new auction and four bidders bidding on it until the server goes away;
    returns (auction, bidders, accepted bid ids) once ``minimum`` bids were accepted."""
    seller, bidders = api.register("seller"), [api.register(f"b{i}") for i in range(4)]
    auction = seller.create_auction(seconds=600, starting_price=100)
    api.wait_until_biddable(auction["id"])
    return auction, bidders, _bid_until_stopped(api, auction["id"], bidders, minimum)


def _catalog_catches_up(api: Api, auction_id: str, accepted: list[str], why: str) -> None:
    """After a restart: bidding holds every accepted bid, and the catalog comes to show its
    price and bid count."""
    live = api.live_state(auction_id).json()
    assert live["bid_count"] >= len(accepted)

    def caught_up():
        listing = api.get(f"/api/auctions/{auction_id}").json()
        return (listing["current_price"], listing["bid_count"]) == (
            live["current_price"], live["bid_count"])

    wait_for(caught_up, timeout=30, message=why)


def test_a_signal_to_the_whole_group_during_bidding_stops_everything_and_keeps_every_event(
        var_dir):
    port = free_port()
    api = Api(f"http://127.0.0.1:{port}")
    process = start_embedded(var_dir, port)
    try:
        auction, bidders, accepted = _auction_in_a_storm(api)
    finally:
        _stop_group(process, signal.SIGTERM, var_dir)

    process = start_embedded(var_dir, port)
    try:
        _catalog_catches_up(api, auction["id"], accepted,
                            "events queued at the stop delivered after the restart")
        _bid_until_stopped(api, auction["id"], bidders)
    finally:
        _stop_group(process, signal.SIGINT, var_dir)


def test_killed_outright_during_bidding_it_loses_no_event_at_the_next_start(var_dir):
    """SIGKILL (the OOM killer, a hung process killed) leaves the in-process bus no moment to
    hand back what it held: the next start publishes again what a consumer had not applied."""
    port = free_port()
    api = Api(f"http://127.0.0.1:{port}")
    process = start_embedded(var_dir, port)
    try:
        auction, _, accepted = _auction_in_a_storm(api, minimum=40)
    finally:
        process.kill()  # the Python process only: its database server lives on, as it would
        process.wait(timeout=10)

    process = start_embedded(var_dir, port)
    try:
        _catalog_catches_up(api, auction["id"], accepted,
                            "events the killed process held applied after the restart")
    finally:
        _stop_group(process, signal.SIGTERM, var_dir)
