"""Watchers are reminded once before a watched listing ends, following the end as it moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auction_common.events import isoformat, make_envelope
from notification_service.watches import remind_watchers
from tests.service import test_notifications as base
from tests.service.test_notifications import PUBLIC_URL

client, db, deliver = base.client, base.db, base.deliver  # notification_service's fixtures


@pytest.fixture(scope="module")
def settings(settings_for):
    return settings_for("notification_service", watch_reminder_seconds=600,
                        public_url=PUBLIC_URL)


def event(event_type: str, producer: str = "auction_service", **data) -> dict:
    return make_envelope(event_type, data, producer=producer)


def in_minutes(minutes: float) -> str:
    return isoformat(datetime.now(UTC) + timedelta(minutes=minutes))


def reminders(client, account) -> list[dict]:
    items = client.get("/api/notifications", headers=account.headers).get_json()["items"]
    return [item for item in items if item["kind"] == "ending_soon"]


def test_a_watcher_is_reminded_once_when_the_end_comes_near(client, db, settings, account,
                                                           deliver):
    ann = account("ann")
    auction = str(uuid.uuid4())
    deliver(event("auction.watched", auction_id=auction, user_id=ann.id, title="Oak desk",
                  ends_at=in_minutes(5)))
    remind_watchers(db, settings)
    remind_watchers(db, settings)
    [reminder] = reminders(client, ann)
    assert reminder["title"] == "Ending soon: Oak desk"
    assert reminder["data"]["auction_id"] == auction


def test_no_reminder_while_the_end_is_far_or_after_unwatching(client, db, settings, account,
                                                              deliver):
    ann, bob = account("ann"), account("bob")
    far, gone = str(uuid.uuid4()), str(uuid.uuid4())
    deliver(event("auction.watched", auction_id=far, user_id=ann.id, title="Far",
                  ends_at=in_minutes(60)))
    deliver(event("auction.watched", auction_id=gone, user_id=bob.id, title="Gone",
                  ends_at=in_minutes(5)))
    deliver(event("auction.unwatched", auction_id=gone, user_id=bob.id, ends_at=in_minutes(5)))
    remind_watchers(db, settings)
    assert reminders(client, ann) == [] and reminders(client, bob) == []


def test_an_extension_earns_a_new_reminder_and_an_end_cancels_them(client, db, settings,
                                                                   account, deliver):
    ann, bob = account("ann"), account("bob")
    auction, other = str(uuid.uuid4()), str(uuid.uuid4())
    deliver(event("auction.watched", auction_id=auction, user_id=ann.id, title="Clock",
                  ends_at=in_minutes(5)))
    remind_watchers(db, settings)
    deliver(event("auction.extended", producer="bidding_service", auction_id=auction, seq=3,
                  ends_at=in_minutes(8)))
    remind_watchers(db, settings)
    assert len(reminders(client, ann)) == 2
    deliver(event("auction.watched", auction_id=other, user_id=bob.id, title="Vase",
                  ends_at=in_minutes(5)))
    deliver(event("auction.cancelled", auction_id=other, seller_id=str(uuid.uuid4()),
                  cancelled_at=in_minutes(0)))
    remind_watchers(db, settings)
    assert reminders(client, bob) == []


def watch_end(db, auction: str, user_id: str):
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return conn.execute(text("SELECT ends_at FROM notifications.watches WHERE "
                                 "auction_id = :a AND user_id = :u"),
                            {"a": auction, "u": user_id}).scalar()


def test_the_end_follows_only_newer_news_and_a_late_watch_of_a_finished_auction_is_dropped(
        client, db, settings, account, deliver):
    ann, bob = account("ann"), account("bob")
    auction, ended = str(uuid.uuid4()), str(uuid.uuid4())
    extended_to = in_minutes(30)
    deliver(event("auction.watched", auction_id=auction, user_id=ann.id, title="Clock",
                  ends_at=in_minutes(10)))
    deliver(event("auction.extended", producer="bidding_service", auction_id=auction, seq=4,
                  ends_at=extended_to))
    # Late: an edit from before the first bid, an older extension, the watch itself again.
    deliver(event("auction.updated", auction_id=auction, seller_id=str(uuid.uuid4()),
                  title="Clock", currency="EUR", starting_price=100, reserve_price=None,
                  buy_now_price=None, increments=None, anti_sniping_seconds=0,
                  starts_at=in_minutes(-5), ends_at=in_minutes(2), version=2))
    deliver(event("auction.extended", producer="bidding_service", auction_id=auction, seq=3,
                  ends_at=in_minutes(20)))
    deliver(event("auction.watched", auction_id=auction, user_id=ann.id, title="Clock",
                  ends_at=in_minutes(10)))
    assert watch_end(db, auction, ann.id) == datetime.fromisoformat(extended_to)
    deliver(event("auction.ended", producer="bidding_service", auction_id=ended, seq=2,
                  outcome="unsold_no_bids", winner_id=None, price=None, currency="EUR",
                  title="Vase", seller_id=str(uuid.uuid4()), ended_at=in_minutes(0),
                  bid_count=0))
    deliver(event("auction.watched", auction_id=ended, user_id=bob.id, title="Vase",
                  ends_at=in_minutes(5)))
    remind_watchers(db, settings)
    assert watch_end(db, ended, bob.id) is None and reminders(client, bob) == []
