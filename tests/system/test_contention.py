"""Fifty bidders, two thousand bids at once on one auction that ends during the storm, then
spread over several auctions that end one after the other (each web process decides the bids
that reach it together, whatever their auctions, in one transaction), through the real HTTP
stack (nginx, gunicorn, PostgreSQL, RabbitMQ)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pika
import psycopg2
import pytest
import requests
from sqlalchemy.engine import make_url

from tests.support.api import Api
from tests.support.waiting import wait_for
from tests.unit.reference_model import ReferenceAuction
from tools.provision import amqp_url

pytestmark = pytest.mark.system

BIDDERS, BIDS, SECONDS = 50, 2000, 6
AUCTIONS = 5


def test_a_bid_storm_across_the_close_loses_nothing_and_accepts_nothing_late(
        stack, postgres_admin_url):
    api, seller, bidders, ended_events = _people(stack, "b")
    auction = seller.create_auction(
        seconds=SECONDS, starting_price=100, anti_sniping_seconds=0, title="Storm lamp")
    api.wait_until_biddable(auction["id"])
    plan = [(bidders[i % BIDDERS], 100 + i * 40 + random.randint(0, 39)) for i in range(BIDS)]
    random.shuffle(plan)
    ended = threading.Event()

    def send(pair):
        who, amount = pair
        answer = who.bid(auction["id"], amount)
        if answer.status_code == 409:
            ended.set()
        return who.id, amount, answer

    ends_at = datetime.fromisoformat(auction["ends_at"]).timestamp()
    with ThreadPoolExecutor(BIDDERS) as pool:
        answers = list(pool.map(send, plan))
        # However fast the platform is, the storm goes on until it has crossed the end (a
        # count of extra rounds was not enough on a fast machine: all of them came before it).
        i = BIDS
        while not ended.is_set() and time.time() < ends_at + 15:
            answers += list(pool.map(send, [(bidders[j % BIDDERS], 100 + j * 40)
                                            for j in range(i, i + BIDDERS)]))
            i += BIDDERS
    statuses = [answer.status_code for _, _, answer in answers]
    assert all(code < 500 for code in statuses), "no 5xx"
    accepted = {answer.json()["bid_id"] for _, _, answer in answers if answer.status_code == 201}
    refused = [answer.json()["error"]["code"] for _, _, answer in answers
               if answer.status_code != 201]
    assert set(refused) <= {"too_low", "auction_not_live"}
    assert "auction_not_live" in refused, "the auction ended during the storm"

    _closed_as_the_reference_model_says(stack, postgres_admin_url, api, seller, auction["id"],
                                        accepted)

    wait_for(lambda: ended_events(auction["id"]), timeout=20, message="auction.ended")
    assert len(ended_events(auction["id"])) == 1, "exactly one auction.ended"


def test_a_storm_over_several_auctions_ending_in_turn_loses_nothing_and_mixes_nothing(
        stack, postgres_admin_url):
    api, seller, bidders, ended_events = _people(stack, "s")
    auctions = [seller.create_auction(seconds=SECONDS + i, starting_price=100,
                                      anti_sniping_seconds=0, title=f"Spread lamp {i}")
                for i in range(AUCTIONS)]
    for auction in auctions:
        api.wait_until_biddable(auction["id"])
    # Each auction gets its own rising amounts, so that most bids stand.
    plan = [(bidders[i % BIDDERS], auctions[i % AUCTIONS]["id"],
             100 + (i // AUCTIONS) * 40 + random.randint(0, 39)) for i in range(BIDS)]
    random.shuffle(plan)
    open_ones = {auction["id"] for auction in auctions}
    lock = threading.Lock()

    def send(item):
        who, auction_id, amount = item
        answer = who.bid(auction_id, amount)
        if answer.status_code == 409:
            with lock:
                open_ones.discard(auction_id)
        return who.id, auction_id, amount, answer

    with ThreadPoolExecutor(BIDDERS) as pool:
        answers = list(pool.map(send, plan))
        step = BIDS // AUCTIONS
        while open_ones:  # until every auction has refused a bid for having ended
            answers += list(pool.map(send, [
                (bidders[j % BIDDERS], auction_id, 100 + (step + j) * 40)
                for auction_id in sorted(open_ones) for j in range(step, step + 10)]))
            step += 10
    assert all(answer.status_code < 500 for *_, answer in answers), "no 5xx"
    assert _groups_of_several_auctions(stack) > 0, "the storm was decided in shared groups"
    for auction in auctions:
        mine = [answer for _, auction_id, _, answer in answers if auction_id == auction["id"]]
        accepted = {answer.json()["bid_id"] for answer in mine if answer.status_code == 201}
        refused = {answer.json()["error"]["code"] for answer in mine
                   if answer.status_code != 201}
        assert refused <= {"too_low", "auction_not_live"}
        assert {a.json()["auction_id"] for a in mine if a.status_code == 201} <= {auction["id"]}
        _closed_as_the_reference_model_says(stack, postgres_admin_url, api, seller,
                                            auction["id"], accepted)
    for auction in auctions:
        wait_for(lambda a=auction: ended_events(a["id"]), timeout=20, message="auction.ended")
        assert len(ended_events(auction["id"])) == 1, "exactly one auction.ended each"


def _people(stack, prefix: str):
    """(api, a seller, BIDDERS bidders, a tap of ``auction.ended``)."""
    api = Api(stack.url)
    seller = api.register("seller")
    bidders = [api.register(f"{prefix}{i:02d}") for i in range(BIDDERS)]
    return api, seller, bidders, _tap(stack, "auction.ended")


def _closed_as_the_reference_model_says(stack, admin_url: str, api: Api, seller,
                                        auction_id: str, accepted: set[str]) -> None:
    """Once the auction has closed: its stored bids are exactly the accepted ones, none after
    the end, the price never went down, and replaying them in commit order through the
    reference model gives its final state (the winner, as the seller learns it: the public
    state names nobody)."""
    final = wait_for(lambda: (s := api.live_state(auction_id).json())["outcome"] and s,
                     timeout=30, message="the auction to close")
    rows = _stored_bids(admin_url, stack.database, auction_id)
    assert {str(row[0]) for row in rows} == accepted, "every 201 is its stored bid, no other"
    ends_at = datetime.fromisoformat(final["ends_at"])
    assert all(placed_at < ends_at for *_, placed_at in rows), "no bid accepted after the end"
    prices = [price for _, _, _, price, _ in rows]
    assert prices == sorted(prices), "the price never goes down"
    model = ReferenceAuction(seller.id, 100, 0, 10**12)
    for _, bidder, amount, _, _ in rows:
        expected = model.bid(str(bidder), amount, 1)
        assert expected in ("leading", "outbid"), (bidder, amount, expected)
    as_seller = api.get(f"/api/bids/auctions/{auction_id}", headers=seller.headers).json()
    assert (final["current_price"], as_seller["winner_id"], final["bid_count"]) == (
        model.current_price(), model.leader(), model.count)


def _groups_of_several_auctions(stack) -> float:
    """How many bid transactions of bidding's web processes decided bids on 2+ auctions."""
    metrics = requests.get(f"http://127.0.0.1:{stack.ports['bidding_service']}/metrics",
                           timeout=10).text
    buckets = {line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
               for line in metrics.splitlines()
               if line.startswith('bid_group_size_bucket{') and 'of="auctions"' in line}
    return buckets["+Inf"] - buckets["1.0"]


def _stored_bids(admin_url: str, database: str, auction_id: str) -> list[tuple]:
    """(bid_id, bidder_id, max_amount, price_after, placed_at) in decision (lock) order."""
    dsn = make_url(admin_url).set(database=database, drivername="postgresql")
    with psycopg2.connect(dsn.render_as_string(hide_password=False)) as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT id, bidder_id, max_amount, price_after, placed_at FROM bidding.bids "
                    "WHERE auction_id = %s ORDER BY number", (auction_id,))
        return cur.fetchall()


def _tap(stack, event_type: str):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url(stack.vhost)))
    channel = connection.channel()
    channel.exchange_declare("auction.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare(f"test.tap.{uuid.uuid4().hex[:6]}", exclusive=True)
    channel.queue_bind(queue.method.queue, "auction.events", routing_key=event_type)
    seen: list[dict] = []

    def of(auction_id: str) -> list[dict]:
        while (got := channel.basic_get(queue.method.queue, auto_ack=True))[0] is not None:
            seen.append(json.loads(got[2]))
        return [e for e in seen if e["data"]["auction_id"] == auction_id]

    return of

