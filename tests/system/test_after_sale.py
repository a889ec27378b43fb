"""After the hammer falls, black-box through the gateway of the distributed shape: one auction
with three bidders and one whose reserve is not met, each person's notifications and emails
exactly once, each party's contact to the other party only, and the one-click unsubscribe of
an email by its link's token alone."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.support.api import Api, User
from tests.support.waiting import wait_for

from .flow import Watcher

pytestmark = pytest.mark.system

#: Long enough for the closer, the consumers, the delivery job and SMTP (seconds).
SETTLED = 30


def kinds(user: User, auction_id: str) -> Counter:
    return Counter(n["kind"] for n in user.notifications()
                   if n["data"].get("auction_id") == auction_id)


def mails(api: Api, user: User, subject_part: str) -> list[dict]:
    return [m for m in api.mailbox()
            if user.email.lower() in m["to"] and subject_part in m["subject"]]


def sale(user: User, auction_id: str):
    return user.api.get(f"/api/notifications/sales/{auction_id}", headers=user.headers)


def test_three_bidders_and_an_unmet_reserve_everyone_told_once_contacts_to_two(stack):
    api = Api(stack.url)
    seller, ann, bob, cat = (api.register(n) for n in ("Sol", "Ann", "Bob", "Cat"))
    # No anti-sniping: the bids come in the last seconds, and must not move the end.
    sold = seller.create_auction(seconds=6, title="Pewter jug", starting_price=1000,
                                 anti_sniping_seconds=0)
    short = seller.create_auction(seconds=6, title="Oak stool", starting_price=1000,
                                  reserve_price=9000, anti_sniping_seconds=0)
    for auction in (sold, short):
        api.wait_until_biddable(auction["id"])
    public = Watcher(stack.url, sold["id"])  # an anonymous page watching the auction
    ann_live = Watcher(stack.url, sold["id"], token=ann.tokens["access_token"])
    for who, amount in ((ann, 2000), (bob, 3000), (cat, 4000)):
        assert who.bid(sold["id"], amount).status_code == 201
    for who, amount in ((ann, 2000), (bob, 5000)):
        assert who.bid(short["id"], amount).status_code == 201

    # The sale: Cat won at EUR 31.00 (Bob's maximum plus one increment).
    expected = {seller: "listing_ended", cat: "won", ann: "lost", bob: "lost"}
    wait_for(lambda: all(kinds(who, sold["id"])[kind] for who, kind in expected.items()),
             timeout=SETTLED, message="everyone's notice of the sale")
    for who, kind in expected.items():
        assert kinds(who, sold["id"])[kind] == 1, (who.display_name, kind)
    wait_for(lambda: all(mails(api, who, "Pewter jug") for who in expected), timeout=SETTLED,
             message="everyone's email about the sale")
    [won_mail] = [m for m in mails(api, cat, "Pewter jug") if m["subject"].startswith("You won")]
    assert seller.email.lower() in won_mail["text"]
    assert "arrange payment and delivery" in won_mail["text"]
    [sold_mail] = [m for m in mails(api, seller, "Pewter jug") if "Sold" in m["subject"]]
    assert cat.email.lower() in sold_mail["text"] and "EUR 31.00" in sold_mail["text"]
    for loser in (ann, bob):
        lost = [m for m in mails(api, loser, "Pewter jug") if "did not win" in m["subject"]]
        assert len(lost) == 1
        assert seller.email.lower() not in lost[0]["text"]
        assert cat.email.lower() not in lost[0]["text"]

    # The page learns how it ended, never who bid; Ann's own room gets her notices.
    try:
        [ended] = wait_for(lambda: public.of("auction.ended"), timeout=SETTLED,
                           message="auction.ended in the auction's room")
        assert ended["outcome"] == "sold"
        assert "bidder_ids" not in ended and "high_bidder_id" not in ended
        wait_for(lambda: any(n["kind"] == "lost" for n in ann_live.of("notification")),
                 timeout=SETTLED, message="Ann's lost notice, live")
        assert all("seller" not in n["data"] for n in ann_live.of("notification"))
    finally:
        public.close()
        ann_live.close()

    # The two parties' contacts: to each other, nobody else.
    assert sale(cat, sold["id"]).json()["counterpart"]["email"] == seller.email.lower()
    assert sale(seller, sold["id"]).json()["counterpart"]["email"] == cat.email.lower()
    for outsider in (ann, bob):
        assert sale(outsider, sold["id"]).status_code == 404
    assert api.get(f"/api/notifications/sales/{sold['id']}").status_code == 401

    # The unmet reserve: Bob bid the most and is told why; Ann is told too; no sale.
    wait_for(lambda: kinds(bob, short["id"])["lost"] and kinds(ann, short["id"])["lost"]
             and kinds(seller, short["id"])["listing_ended"], timeout=SETTLED,
             message="the notices of the unmet reserve")
    [highest] = [n for n in bob.notifications() if n["data"].get("auction_id") == short["id"]
                 and n["kind"] == "lost"]
    assert "You were the highest bidder" in highest["body"] and "reserve" in highest["body"]
    assert kinds(ann, short["id"])["lost"] == 1 and kinds(bob, short["id"])["lost"] == 1
    assert sale(bob, short["id"]).status_code == 404 and sale(seller, short["id"]).status_code \
        == 404

    # Ann turns "lost" emails off from her email alone (no sign-in), by its one-click URL.
    [ann_lost] = [m for m in mails(api, ann, "Pewter jug") if "did not win" in m["subject"]]
    assert ann_lost["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    one_click = urlsplit(ann_lost["list_unsubscribe"].strip("<>"))
    anonymous = Api(stack.url)
    answer = anonymous.post(f"{one_click.path}?{one_click.query}",
                            data="List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["kind"], answer.json()["email"]) == ("lost", False)
    mine = api.get("/api/notifications/preferences", headers=ann.headers).json()["email"]
    assert mine["lost"] is False and mine["outbid"] is True
    forged = anonymous.post("/api/notifications/unsubscribe",
                            params={"token": one_click.query[len("token="):-3] + "xyz"})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_token"

    # The unread count, and reading everything.
    count = api.get("/api/notifications/unread-count", headers=ann.headers).json()["count"]
    assert count == len([n for n in ann.notifications() if not n["read_at"]]) >= 3
    assert api.post("/api/notifications/read-all", headers=ann.headers).json() == {"count": 0}
