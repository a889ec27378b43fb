"""Relisting an item that did not sell, or was withdrawn: a new listing with the same terms and
copies of its photos, on real PostgreSQL and a real media directory."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import text

from tests.service import test_catalog_photos as photos
from tests.service.test_catalog import auction_ended, bid_placed, in_, list_item, show
from tests.service.test_catalog_photos import picture, upload
from tests.support.outbox import outbox_events

# auction_service with its own media directory, and the read model's consumer
client, db, deliver = photos.client, photos.db, photos.deliver
catalog_app, media_root = photos.catalog_app, photos.media_root


def relist(client, who, auction_id: str, key: str | None = None, **changes):
    headers = dict(who.headers, **({"Idempotency-Key": key} if key else {}))
    return client.post(f"/api/auctions/{auction_id}/relist", json=changes, headers=headers)


def unsold(client, deliver, seller, **fields) -> dict:
    auction = list_item(client, seller, **fields)
    deliver(auction_ended(auction, seq=1, winner_id=None, price=None))
    return auction


def created_events(db, auction_id: str) -> list[dict]:
    return outbox_events(db, auction_id, "auction.created")


def test_an_unsold_item_is_relisted_with_its_terms_and_photos(client, db, account, deliver,
                                                             media_root):
    seller = account("seller")
    old = list_item(client, seller, title="Brass lamp", reserve_price=5000,
                    buy_now_price=9000, condition="used", duration_seconds=3600, ends_at=None)
    for size in ((800, 600), (600, 800)):
        assert upload(client, seller, old["id"], picture(size=size)).status_code == 201
    deliver(auction_ended(old, seq=1, winner_id=None, price=None))

    answer = relist(client, seller, old["id"], starting_price=1500)
    assert answer.status_code == 201, answer.get_json()
    new = answer.get_json()
    assert new["id"] != old["id"] and new["status"] == "live"
    for field in ("title", "description", "category", "condition", "currency",
                  "reserve_price", "buy_now_price", "anti_sniping_seconds"):
        assert new[field] == old[field], field
    assert (new["starting_price"], new["current_price"], new["bid_count"]) == (1500, 1500, 0)
    lasted = (datetime.fromisoformat(new["ends_at"])
              - datetime.fromisoformat(new["starts_at"])).total_seconds()
    assert lasted == 3600, "as long as the old listing ran"
    assert [(i["width"], i["height"]) for i in new["images"]] == [(800, 600), (600, 800)]
    assert {i["id"] for i in new["images"]}.isdisjoint(i["id"] for i in show(
        client, old["id"])["images"])
    for image in new["images"]:
        for url in (image["thumb_url"], image["display_url"]):
            assert (media_root / url.removeprefix("/media/")).is_file(), url
    assert show(client, new["id"])["images"] == new["images"]
    [event] = created_events(db, new["id"])
    assert (event["data"]["starting_price"], event["data"]["reserve_price"]) == (1500, 5000)
    assert show(client, old["id"])["outcome"] == "unsold_no_bids", "the old listing stays"


def test_a_withdrawn_listing_can_be_relisted_and_a_retry_answers_the_same(client, account):
    seller = account("seller")
    old = list_item(client, seller)
    assert client.post(f"/api/auctions/{old['id']}/cancel",
                       headers=seller.headers).status_code == 200
    first = relist(client, seller, old["id"], key="relist-1", duration_seconds=7200,
                   reserve_price=None)
    again = relist(client, seller, old["id"], key="relist-1", duration_seconds=7200,
                   reserve_price=None)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"], "one new listing, not two"
    assert first.get_json()["reserve_price"] is None


@pytest.mark.parametrize("state, status, code", [
    ("live", 409, "listing_not_ended"),
    ("sold", 409, "listing_sold"),
])
def test_only_an_unsold_listing_can_be_relisted(client, account, deliver, state, status, code):
    seller, ann = account("seller"), account("ann")
    auction = list_item(client, seller)
    if state == "sold":
        deliver(bid_placed(auction, seq=1, price=1000, leader_id=ann.id, bid_count=1))
        deliver(auction_ended(auction, seq=2, winner_id=ann.id, price=1000))
    answer = relist(client, seller, auction["id"])
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code)


def test_only_the_seller_relists_and_bad_changes_are_refused(client, db, account, deliver):
    seller, ann = account("seller"), account("ann")
    auction = unsold(client, deliver, seller)
    refused = relist(client, ann, auction["id"])
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (
        403, "not_your_auction")
    assert relist(client, seller, str(uuid.uuid4())).status_code == 404
    for changes in ({"starting_price": -5}, {"colour": "red"}, {"title": None},
                    {"ends_at": in_(-60)}, {"buy_now_price": 500, "starting_price": 1000}):
        answer = relist(client, seller, auction["id"], **changes)
        assert answer.status_code == 422, (changes, answer.get_json())
        assert answer.get_json()["error"]["code"] == "validation_error"
    with db.engine.connect() as conn:
        mine = conn.execute(text("SELECT count(*) FROM auctions.auctions WHERE seller_id = :s"),
                            {"s": seller.id}).scalar_one()
    assert mine == 1, "nothing half-written"
    assert client.post(f"/api/auctions/{auction['id']}/relist", json={}).status_code == 401
