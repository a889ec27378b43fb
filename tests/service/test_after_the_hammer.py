"""After the hammer falls: every bidder, the winner and the seller told once, in the app and by
real email; buyer and seller given each other's contact (nobody else); unread counts,
mark-all-read, and the one-click unsubscribe of each optional email.

The ``auction.ended`` events are bidding_service's own, read from its outbox after a real close."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from auction_common.events import EventSchemas
from bidding_service.app import EVENT_SCHEMAS as BIDDING_EVENT_SCHEMAS
from tests.service import test_notifications as base
from tests.service.test_notifications import deliveries, notices, outbid, send_until
from tests.support.closing import close_auction
from tests.support.outbox import outbox_events

# notification_service's fixtures
client, db, deliver, announce = base.client, base.db, base.deliver, base.announce
sink, send_emails = base.sink, base.send_emails


@pytest.fixture(scope="module")
def bids(bidding):
    return bidding[0].test_client()


@pytest.fixture
def ended(bidding, bids, open_auction):
    """Run an auction on bidding_service to its close: ``ended(seller, [(bidder, max), ...],
    **pricing)`` -> its real ``auction.ended`` event (checked against the schema)."""
    bidding_db = bidding[1].db

    def run(seller, bidders, **pricing) -> dict:
        auction_id = open_auction(seller.id, seconds=1.0, **pricing)
        for who, amount in bidders:
            answer = bids.post("/api/bids", json={"auction_id": auction_id, "amount": amount},
                               headers=who.headers)
            assert answer.status_code == 201, answer.get_json()
        event = close_auction(bidding_db, auction_id)
        EventSchemas(BIDDING_EVENT_SCHEMAS).validate(event)
        return event

    return run


def people(account, announce, *names):
    """Accounts whose contacts notification_service knows."""
    made = [account(name) for name in names]
    for who in made:
        announce(who)
    return made


def kinds(client, who) -> list[str]:
    return sorted(n["kind"] for n in notices(client, who))


def test_auction_ended_names_every_bidder_once_and_the_highest(ended, account):
    seller, ann, bob, cat = (account(n) for n in ("seller", "ann", "bob", "cat"))
    event = ended(seller, [(ann, 2000), (bob, 3000), (ann, 2500), (cat, 4000)])
    data = event["data"]
    assert (data["outcome"], data["winner_id"], data["high_bidder_id"]) == ("sold", cat.id,
                                                                            cat.id)
    assert sorted(data["bidder_ids"]) == sorted([ann.id, bob.id, cat.id])


def test_a_sale_tells_the_winner_the_seller_and_each_loser_once(client, db, account, announce,
                                                                deliver, ended):
    seller, ann, bob, cat = people(account, announce, "seller", "ann", "bob", "cat")
    event = ended(seller, [(ann, 2000), (bob, 3000), (cat, 4000)])
    deliver(event)
    deliver(event)  # redelivered: nobody is told twice

    [won] = notices(client, cat)
    assert won["kind"] == "won"
    assert seller.email in won["body"] and "seller" in won["body"]
    assert "arrange payment and delivery" in won["body"]
    assert won["data"]["seller"] == {"user_id": seller.id, "display_name": "seller",
                                     "email": seller.email}
    [sold] = notices(client, seller)
    assert sold["kind"] == "listing_ended"
    assert cat.email in sold["body"] and "EUR 31.00" in sold["title"]
    assert sold["data"]["buyer"]["email"] == cat.email
    for loser in (ann, bob):
        [lost] = notices(client, loser)
        assert lost["kind"] == "lost"
        assert "another bidder won it for EUR 31.00" in lost["body"]
        assert seller.email not in str(lost) and cat.email not in str(lost)
        assert len(deliveries(db, loser.id)) == 1


def test_an_unmet_reserve_tells_the_highest_bidder_why(client, account, announce, deliver,
                                                       ended):
    seller, ann, bob = people(account, announce, "seller", "ann", "bob")
    event = ended(seller, [(ann, 2000), (bob, 4000)], reserve_price=50_000)
    assert (event["data"]["winner_id"], event["data"]["high_bidder_id"]) == (None, bob.id)
    deliver(event)
    [highest] = notices(client, bob)
    assert highest["kind"] == "lost"
    assert "You were the highest bidder" in highest["body"] and "reserve" in highest["body"]
    assert highest["data"]["highest_bidder"] is True
    [other] = notices(client, ann)
    assert (other["kind"], other["data"]["highest_bidder"]) == ("lost", False)
    assert "did not reach the reserve" in other["body"]
    [unsold] = notices(client, seller)
    assert unsold["title"].startswith("Not sold")
    assert "buyer" not in unsold["data"]


def test_a_listing_with_bids_is_never_withdrawn_so_its_bidders_keep_their_bids(
        client, account, announce, bidding, bids, open_auction):
    """Withdrawing is decided by bidding: once a bid stands, a cancellation is never applied
    (the catalog's call is refused with listing_locked; a stray event changes nothing)."""
    from auction_common.events import make_envelope
    from bidding_service.consumers import catalog_consumer

    seller, ann = people(account, announce, "seller", "ann")
    auction_id = open_auction(seller.id)
    bids.post("/api/bids", json={"auction_id": auction_id, "amount": 2000}, headers=ann.headers)
    catalog_consumer(bidding[1].db)(make_envelope("auction.cancelled", {
        "auction_id": auction_id, "seller_id": seller.id,
        "cancelled_at": "2026-01-01T00:00:00Z", "version": 2}, producer="auction_service"))
    assert outbox_events(bidding[1].db, auction_id, "auction.ended") == []
    assert bids.get(f"/api/bids/auctions/{auction_id}").get_json()["status"] == "live"
    assert notices(client, ann) == []


def test_the_winner_and_seller_get_emails_with_each_others_contact(
        account, announce, deliver, ended, sink, send_emails):
    seller, ann, bob = people(account, announce, "seller", "ann", "bob")
    deliver(ended(seller, [(ann, 2000), (bob, 3000)]))
    addresses = (seller.email, ann.email, bob.email)
    send_until(send_emails, lambda: all(sink.mails_to(a) for a in addresses), "three emails")
    [won] = sink.mails_to(bob.email)
    assert won["subject"] == "You won Lamp"
    assert seller.email in won["text"] and seller.email in won["html"]
    assert "Contact the seller to arrange payment and delivery" in won["text"]
    [sold] = sink.mails_to(seller.email)
    assert bob.email in sold["text"] and "EUR 20.50" in sold["text"]
    [lost] = sink.mails_to(ann.email)
    assert lost["subject"] == "You did not win Lamp"
    assert seller.email not in lost["text"] and bob.email not in lost["text"]


def test_lost_emails_follow_the_preference(client, db, account, announce, deliver, ended):
    seller, ann, bob = people(account, announce, "seller", "ann", "bob")
    answer = client.put("/api/notifications/preferences", json={"email": {"lost": False}},
                        headers=ann.headers)
    assert answer.status_code == 200 and answer.get_json()["email"]["lost"] is False
    deliver(ended(seller, [(ann, 2000), (bob, 3000)]))
    assert kinds(client, ann) == ["lost"], "still told in the app"
    assert deliveries(db, ann.id) == [], "but not by email"
    assert len(deliveries(db, bob.id)) == 1


# --- the buyer's and seller's contact on the auction page ------------------------------------


def test_only_the_buyer_and_the_seller_see_each_others_contact(client, account, announce,
                                                              deliver, ended):
    seller, ann, bob = people(account, announce, "seller", "ann", "bob")
    event = ended(seller, [(ann, 2000), (bob, 3000)])
    deliver(event)
    url = f"/api/notifications/sales/{event['data']['auction_id']}"
    buyer_view = client.get(url, headers=bob.headers).get_json()
    assert (buyer_view["role"], buyer_view["price"], buyer_view["currency"]) == (
        "buyer", 2050, "EUR")
    assert buyer_view["counterpart"] == {"role": "seller", "user_id": seller.id,
                                         "display_name": "seller", "email": seller.email}
    assert "arrange payment and delivery" in buyer_view["next_step"]
    seller_view = client.get(url, headers=seller.headers).get_json()
    assert (seller_view["role"], seller_view["counterpart"]["email"]) == ("seller", bob.email)
    for outsider in (ann, account("eve")):
        refused = client.get(url, headers=outsider.headers)
        assert refused.status_code == 404
        assert refused.get_json()["error"]["code"] == "sale_not_found"
    assert client.get(url).status_code == 401
    assert client.get(f"/api/notifications/sales/{uuid.uuid4()}",
                      headers=bob.headers).status_code == 404


# --- unread count, read all -----------------------------------------------------------------


def test_the_unread_count_falls_as_notifications_are_read(client, account, deliver):
    ann, bob = account("ann"), account("bob")
    for seq in (2, 4, 6):
        deliver(outbid(ann.id, seq=seq))  # three auctions: three notices

    def count(who):
        answer = client.get("/api/notifications/unread-count", headers=who.headers)
        assert answer.status_code == 200
        return answer.get_json()["count"]

    assert (count(ann), count(bob)) == (3, 0)
    shown = [n["id"] for n in notices(client, ann)[:2]]
    answer = client.post("/api/notifications/read-all", json={"ids": shown},
                         headers=ann.headers)
    assert answer.get_json() == {"count": 1}
    assert count(ann) == 1
    client.post("/api/notifications/read-all", json={"ids": shown}, headers=bob.headers)
    assert count(ann) == 1, "someone else's ids change nothing"
    assert client.post("/api/notifications/read-all", headers=ann.headers).get_json() == {
        "count": 0}
    assert all(n["read_at"] for n in notices(client, ann))


@pytest.mark.parametrize("body, status", [
    ({"ids": ["not-a-uuid"]}, 422), ({"ids": "all"}, 422), ({"every": True}, 422),
])
def test_read_all_refuses_a_bad_body(client, account, body, status):
    answer = client.post("/api/notifications/read-all", json=body,
                         headers=account("ann").headers)
    assert answer.status_code == status
    assert answer.get_json()["error"]["code"] == "validation_error"


# --- one-click unsubscribe ------------------------------------------------------------------


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_an_optional_email_unsubscribes_by_its_token_alone(client, db, account, announce,
                                                           deliver, sink, send_emails):
    ann = account("ann")
    announce(ann)
    deliver(outbid(ann.id, seq=2))
    [mail] = send_until(send_emails, lambda: sink.mails_to(ann.email), "the outbid email")
    assert mail["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    one_click = mail["list_unsubscribe"].strip("<>")
    assert "/api/notifications/unsubscribe?token=" in one_click
    assert "/unsubscribe?token=" in mail["text"] and "Unsubscribe</a>" in mail["html"]
    token = _token(one_click)

    preview = client.get("/api/notifications/unsubscribe", query_string={"token": token})
    assert preview.get_json() == {"kind": "outbid", "description": "Someone outbid me",
                                  "email": True}
    # What a mail client sends (RFC 8058): a form body, no cookie, no token header.
    answer = client.post(f"{urlsplit(one_click).path}?{urlsplit(one_click).query}",
                         data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["email"] is False
    prefs = client.get("/api/notifications/preferences", headers=ann.headers).get_json()
    assert prefs["email"]["outbid"] is False and prefs["email"]["won"] is True

    deliver(outbid(ann.id, seq=4))
    assert len(notices(client, ann)) == 2, "still told in the app"
    assert len(deliveries(db, ann.id)) == 1, "no second email"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a forged signature
    lambda t: t.replace(".outbid.", ".won."),  # another kind, same signature
    lambda t: uuid.uuid4().hex + t[32:],  # another user, same signature
    lambda t: "nonsense",
])
def test_a_tampered_unsubscribe_token_is_refused(client, db, account, deliver, mangle):
    from notification_service.unsubscribe import unsubscribe_token

    ann = account("ann")
    with db.unit_of_work() as uow:
        token = unsubscribe_token(uow.session, uuid.UUID(ann.id), "outbid")
        uow.commit()
    answer = client.post("/api/notifications/unsubscribe", query_string={"token": mangle(token)})
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_token"
    prefs = client.get("/api/notifications/preferences", headers=ann.headers).get_json()
    assert all(prefs["email"].values()), "nothing turned off"
    assert client.post("/api/notifications/unsubscribe").status_code == 422
