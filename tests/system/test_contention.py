"""Fifty bidders, two thousand bids at once on one auction that ends during the storm,
through the real HTTP stack (nginx, gunicorn, PostgreSQL, RabbitMQ)."""

from __future__ import annotations

import json
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pika
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from tests.support.api import Api
from tests.support.waiting import wait_for
from tests.unit.reference_model import ReferenceAuction
from tools.provision import amqp_url

pytestmark = pytest.mark.system

BIDDERS, BIDS, SECONDS = 50, 2000, 6


def test_a_bid_storm_across_the_close_loses_nothing_and_accepts_nothing_late(
        stack, postgres_admin_url):
    api = Api(stack.url)
    seller = api.register("seller")
    bidders = [api.register(f"b{i:02d}") for i in range(BIDDERS)]
    ended_events = _tap(stack, "auction.ended")
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

    with ThreadPoolExecutor(BIDDERS) as pool:
        answers = list(pool.map(send, plan))
        # However fast the platform is, the storm goes on until it has crossed the end.
        extra = iter(range(BIDS, 3 * BIDS, BIDDERS))
        while not ended.is_set() and (i := next(extra, None)) is not None:
            answers += list(pool.map(send, [(bidders[j % BIDDERS], 100 + j * 40)
                                            for j in range(i, i + BIDDERS)]))
    statuses = [answer.status_code for _, _, answer in answers]
    assert all(code < 500 for code in statuses), "no 5xx"
    accepted = {answer.json()["bid_id"] for _, _, answer in answers if answer.status_code == 201}
    refused = [answer.json()["error"]["code"] for _, _, answer in answers
               if answer.status_code != 201]
    assert set(refused) <= {"too_low", "auction_not_live"}
    assert "auction_not_live" in refused, "the auction ended during the storm"

    final = wait_for(lambda: (s := api.live_state(auction["id"]).json())["outcome"] and s,
                     timeout=30, message="the auction to close")
    rows = _stored_bids(postgres_admin_url, stack.database, auction["id"])
    assert {str(row[0]) for row in rows} == accepted, "every 201 is a stored bid, nothing else"
    ends_at = datetime.fromisoformat(final["ends_at"])
    assert all(placed_at < ends_at for *_, placed_at in rows), "no bid accepted after the end"
    prices = [price for _, _, _, price, _ in rows]
    assert prices == sorted(prices), "the price never goes down"

    # Replaying the accepted bids in commit order through the reference model gives the
    # same final state.
    model = ReferenceAuction(seller.id, 100, 0, 10**12)
    for _, bidder, amount, _, _ in rows:
        expected = model.bid(str(bidder), amount, 1)
        assert expected in ("leading", "outbid"), (bidder, amount, expected)
    # The seller learns the winner (the public state names nobody).
    as_seller = api.get(f"/api/bids/auctions/{auction['id']}", headers=seller.headers).json()
    assert (final["current_price"], as_seller["winner_id"], final["bid_count"]) == (
        model.current_price(), model.leader(), model.count)

    wait_for(lambda: ended_events(auction["id"]), timeout=20, message="auction.ended")
    assert len(ended_events(auction["id"])) == 1, "exactly one auction.ended"


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

