"""What an outside probe tried (issue 12), each answered by the real apps on real PostgreSQL:
bodies nested a thousand deep, forged cursors, lax money, invisible titles and names."""

from __future__ import annotations

import base64
import json
import uuid
from types import SimpleNamespace

import pytest

from tests.service.test_catalog import list_item, listing
from tests.support.outbox import events_about
from tests.support.waiting import wait_for

#: About 2 KB of JSON nested a thousand levels deep: Python's parser gives up on it.
DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
#: Deeper than any body of the platform, but parseable.
FAIRLY_DEEP = '{"email": "a@example.com", "password": "x", "display_name": "A", "x": ' + \
    "[" * 100 + "]" * 100 + "}"


@pytest.fixture(scope="module")
def clients(users, catalog, bidding, notifications):
    return {"users": users[0].test_client(), "catalog": catalog[0].test_client(),
            "bidding": bidding[0].test_client(),
            "notifications": notifications[0].test_client()}


# --- 5: deeply nested JSON ------------------------------------------------------------------

JSON_ENDPOINTS = [
    ("users", "POST", "/api/auth/register"),
    ("users", "POST", "/api/auth/login"),
    ("users", "POST", "/api/auth/refresh"),
    ("users", "PATCH", "/api/users/me"),
    ("catalog", "POST", "/api/auctions"),
    ("bidding", "POST", "/api/bids"),
    ("notifications", "PUT", "/api/notifications/preferences"),
]


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, FAIRLY_DEEP],
                         ids=["array", "object", "hundred"])
@pytest.mark.parametrize("service, method, path", JSON_ENDPOINTS)
def test_a_body_nested_too_deep_is_refused_as_invalid_json(clients, account, service, method,
                                                           path, body):
    answer = clients[service].open(path, method=method, data=body,
                                   content_type="application/json",
                                   headers=account("deep").headers)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "invalid_json"


def test_a_body_of_ordinary_depth_still_works(clients, account):
    seller = account("seller")
    answer = clients["catalog"].post("/api/auctions", headers=seller.headers, json=listing(
        increments=[{"from": 0, "increment": 50}, {"from": 10000, "increment": 100}]))
    assert answer.status_code == 201, answer.get_json()


# --- 6: forged cursors ------------------------------------------------------------------------


def forge(**fields) -> str:
    raw = json.dumps(fields).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


IDENT = str(uuid.uuid4())


@pytest.mark.parametrize("sort, cursor", [
    ("newly_listed", forge(s="newly_listed", k="2024-01-01T00:00:00+00:00", i=12345)),
    ("newly_listed", forge(s="newly_listed", k="2024-01-01T00:00:00+00:00", i=None)),
    ("newly_listed", forge(s="newly_listed", k="2024-01-01T00:00:00+00:00", i=[IDENT])),
    ("newly_listed", forge(s="newly_listed", k=1704067200, i=IDENT)),
    ("newly_listed", forge(s="newly_listed", k=["2024"], i=IDENT)),
    ("newly_listed", forge(s="newly_listed", k="0001-01-01T00:00:00+05:00", i=IDENT)),
    ("newly_listed", forge(s="newly_listed", k="9999-12-31T23:59:59-05:00", i=IDENT)),
    ("price_asc", forge(s="price_asc", k=2**80, i=IDENT)),
    ("price_asc", forge(s="price_asc", k=True, i=IDENT)),
    ("price_asc", forge(s="price_asc", k="100", i=IDENT)),
    ("most_bids", forge(s="most_bids", k=1.5, i=IDENT)),
    ("relevance", "eyJzIjoicmVsZXZhbmNlIiwiayI6TmFOLCJpIjoiMSJ9"),  # k: NaN
    ("newly_listed", forge(s=["newly_listed"], k=1, i=IDENT)),
    ("newly_listed", base64.urlsafe_b64encode(b"[" * 1000 + b"]" * 1000).decode()),
])
def test_a_forged_cursor_with_wrong_types_is_refused_naming_the_cursor(clients, sort, cursor):
    query = {"sort": sort, "cursor": cursor} | ({"q": "lamp"} if sort == "relevance" else {})
    answer = clients["catalog"].get("/api/auctions", query_string=query)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert [d["field"] for d in answer.get_json()["error"]["details"]] == ["cursor"]


@pytest.mark.parametrize("offset", ["+23:59", "-23:59", "+16:00"])
def test_a_cursor_time_with_any_offset_python_reads_pages_in_utc(clients, account, offset):
    """PostgreSQL refuses offsets of 16 hours or more: the cursor's time is read in UTC."""
    seller = account("seller")
    for _ in range(2):
        list_item(clients["catalog"], seller)
    cursor = forge(s="newly_listed", k=f"2999-01-01T00:00:00{offset}", i=IDENT)
    answer = clients["catalog"].get("/api/auctions", query_string={
        "seller_id": seller.id, "cursor": cursor})
    assert answer.status_code == 200, answer.get_json()
    assert len(answer.get_json()["items"]) == 2


def test_a_forged_watchlist_cursor_is_refused(clients, account):
    answer = clients["catalog"].get("/api/auctions/watching", headers=account("w").headers,
                                    query_string={"cursor": forge(s="watched", k=5, i=7)})
    assert answer.status_code == 422
    assert answer.get_json()["error"]["details"][0]["field"] == "cursor"


# --- 9: lax money -----------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["1100", 1150.0, True, "1e3", None, [1100]])
def test_a_bid_amount_must_be_a_json_integer(clients, account, open_auction, amount):
    auction_id = open_auction(account("seller").id)
    answer = clients["bidding"].post("/api/bids", headers=account("ann").headers,
                                     json={"auction_id": auction_id, "amount": amount})
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["details"][0]["field"] == "amount"
    state = clients["bidding"].get(f"/api/bids/auctions/{auction_id}").get_json()
    assert state["bid_count"] == 0


# --- 10: invisible text -----------------------------------------------------------------------

INVISIBLE = ["\u200b\u200b\u200b\u200b", "\u200c\u200d\u2060\ufeff", " \u200b \u3164 ",
             "\u2800\u2800\u2800", "\u180e\u180e\u180e", "\u0301\u0301\u0301"]


@pytest.mark.parametrize("title", INVISIBLE)
def test_a_title_of_only_invisible_characters_is_refused(clients, account, title):
    answer = clients["catalog"].post("/api/auctions", headers=account("seller").headers,
                                     json=listing(title=title))
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["details"][0]["field"] == "title"


def test_a_title_with_a_zero_width_joiner_inside_a_word_is_fine(clients, account):
    answer = clients["catalog"].post("/api/auctions", headers=account("seller").headers,
                                     json=listing(title="Family \U0001f468\u200d\U0001f469 lamp"))
    assert answer.status_code == 201, answer.get_json()


@pytest.mark.parametrize("name", INVISIBLE)
def test_a_display_name_of_only_invisible_characters_is_refused(clients, name):
    answer = clients["users"].post("/api/auth/register", json={
        "email": f"ghost.{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse 42",
        "display_name": name})
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["details"][0]["field"] == "display_name"


# --- 4: a suspension reaches every service --------------------------------------------------


@pytest.fixture(scope="module")
def administrator(settings_for, users):
    from user_service.commands import create_admin

    email = f"root.{uuid.uuid4().hex[:8]}@example.com"
    create_admin(settings_for("user_service"), ["--email", email, "--password",
                                                "correct horse 42"])
    answer = users[0].test_client().post("/api/auth/login", json={
        "email": email, "password": "correct horse 42"})
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def user_events(users, user_id: str) -> list[dict]:
    """user_service's events about one account, oldest first."""
    return events_about(users[1].db, "user_id", user_id)


def deliver_to_every_service(parts_of_services, events: list[dict]) -> None:
    """Hand events to every consumer that takes them, as the bus would."""
    for parts in parts_of_services:
        for consumer in parts.consumers:
            for event in events:
                consumer(event)


def private_requests(clients, headers) -> dict[str, int]:
    return {
        "account": clients["users"].get("/api/users/me", headers=headers).status_code,
        "watching": clients["catalog"].get("/api/auctions/watching",
                                           headers=headers).status_code,
        "listing": clients["catalog"].post("/api/auctions", headers=headers,
                                           json=listing()).status_code,
        "notifications": clients["notifications"].get("/api/notifications",
                                                      headers=headers).status_code,
        "my bids": clients["bidding"].get("/api/bids/mine", headers=headers).status_code,
    }


def test_a_suspended_users_token_is_refused_by_every_service(clients, users, catalog, bidding,
                                                             notifications, account,
                                                             administrator):
    """The probe's finding: for up to 15 minutes a suspended user's token still listed items,
    watched and read notifications. Every service now follows user.updated."""
    services = [catalog[1], bidding[1], notifications[1]]
    mallory = account("mallory")
    deliver_to_every_service(services, user_events(users, mallory.id))
    assert set(private_requests(clients, mallory.headers).values()) <= {200, 201}
    answer = clients["users"].post(f"/api/users/{mallory.id}/suspend", headers=administrator)
    assert answer.status_code == 200, answer.get_json()
    deliver_to_every_service(services, user_events(users, mallory.id))
    wait_for(lambda: set(private_requests(clients, mallory.headers).values()) == {403},
             timeout=5, message="every service to refuse the suspended account")
    refused = clients["notifications"].get("/api/notifications", headers=mallory.headers)
    assert refused.get_json()["error"]["code"] == "user_suspended"
    # Restored: welcome back everywhere.
    clients["users"].post(f"/api/users/{mallory.id}/unsuspend", headers=administrator)
    deliver_to_every_service(services, user_events(users, mallory.id))
    wait_for(lambda: 403 not in private_requests(clients, mallory.headers).values(),
             timeout=5, message="every service to let the restored account in again")


def test_an_older_snapshot_arriving_late_does_not_undo_a_suspension(clients, catalog, account):
    from auction_common.events import make_envelope

    nick = account("nick")
    consumer = next(c for c in catalog[1].consumers if c.name == "auction_service.accounts")

    def updated(status: str, version: int) -> dict:
        return make_envelope("user.updated", {
            "user_id": nick.id, "email": nick.email, "display_name": "nick", "role": "user",
            "status": status, "version": version}, producer="user_service")

    consumer(updated("suspended", 3))
    consumer(updated("active", 2))  # late, stale
    wait_for(lambda: clients["catalog"].get("/api/auctions/watching",
                                            headers=nick.headers).status_code == 403,
             timeout=5, message="the suspension to hold")


# --- 8: who leads is not public ----------------------------------------------------------------


def test_nobody_but_the_leader_learns_the_leaders_account_id(clients, account, open_auction):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    auction_id = open_auction(seller.id)
    assert clients["bidding"].post("/api/bids", headers=ann.headers, json={
        "auction_id": auction_id, "amount": 2500}).status_code == 201
    path = f"/api/bids/auctions/{auction_id}"
    anonymous = clients["bidding"].get(path).get_json()
    assert ann.id not in json.dumps(anonymous)
    assert "you_lead" not in anonymous and anonymous["bid_count"] == 1
    other = clients["bidding"].get(path, headers=bob.headers).get_json()
    assert ann.id not in json.dumps(other)
    assert other["you_lead"] is False
    own = clients["bidding"].get(path, headers=ann.headers).get_json()
    assert (own["you_lead"], own["leader_id"]) == (True, ann.id)
    mine = clients["bidding"].get("/api/bids/mine", headers=ann.headers).get_json()
    assert [item["status"] for item in mine["items"] if item["auction_id"] == auction_id] == [
        "leading"]


def test_the_winner_is_told_to_the_winner_and_the_seller_only(clients, account, open_auction):
    seller, bob, eve = account("seller"), account("bob"), account("eve")
    auction_id = open_auction(seller.id, buy_now_price=9000)
    assert clients["bidding"].post(f"/api/bids/auctions/{auction_id}/buy-now",
                                   headers=bob.headers).status_code == 201
    path = f"/api/bids/auctions/{auction_id}"
    assert bob.id not in json.dumps(clients["bidding"].get(path).get_json())
    assert bob.id not in json.dumps(clients["bidding"].get(path, headers=eve.headers).get_json())
    assert clients["bidding"].get(path, headers=bob.headers).get_json()["you_won"] is True
    assert clients["bidding"].get(path, headers=seller.headers).get_json()["winner_id"] == bob.id


def test_the_catalog_names_the_leader_only_masked(clients, account):
    from tests.service.test_catalog import auction_ended, bid_placed

    seller, ann = account("seller"), account("ann")
    auction = list_item(clients["catalog"], seller)
    from auction_service.consumers import read_model_consumer

    consumer = read_model_consumer(catalog_db(clients))
    consumer(bid_placed(auction, seq=1, price=1000, leader_id=ann.id, bid_count=1))
    path = f"/api/auctions/{auction['id']}"
    public = clients["catalog"].get(path).get_json()
    assert ann.id not in json.dumps(public) and public["leader_name"] == "a***n"
    assert clients["catalog"].get(path, headers=ann.headers).get_json()["leader_id"] == ann.id
    found = clients["catalog"].get("/api/auctions", query_string={"seller_id": seller.id})
    assert ann.id not in json.dumps(found.get_json())
    consumer(auction_ended(auction, seq=2, winner_id=ann.id, price=1000))
    assert ann.id not in json.dumps(clients["catalog"].get(path).get_json())
    assert clients["catalog"].get(path, headers=seller.headers).get_json()["winner_id"] == ann.id


def catalog_db(clients):
    return clients["catalog"].application.extensions["db"]


class _EveryRoom(dict):
    """A Socket.IO manager's rooms of one namespace where every room has a client."""

    def get(self, room, default=None):
        return {"sid": "engine.io sid"}


class RoomRecorder:
    """Stands for the Socket.IO server, with a client in every room: keeps what ``fan_out``
    emits, to which room."""

    def __init__(self):
        self.emitted: list[tuple[str, dict, str]] = []
        self.server = SimpleNamespace(manager=SimpleNamespace(rooms={"/": _EveryRoom()}))

    def emit(self, name, payload, to):
        self.emitted.append((name, payload, to))

    def hear(self, event_type: str, data: dict, producer: str) -> None:
        from auction_common.events import make_envelope
        from bidding_service.realtime.fanout import fan_out

        fan_out(self, make_envelope(event_type, data, producer=producer))


def test_an_event_for_a_room_nobody_is_in_is_not_emitted():
    room = RoomRecorder()
    room.server.manager.rooms = {"/": {f"auction:{uuid.uuid4()}": {"sid": "eio"}}}
    room.hear("bid.placed", {
        "auction_id": str(uuid.uuid4()), "seq": 1, "current_price": 1000, "currency": "EUR",
        "bid_count": 1, "leader_id": str(uuid.uuid4()), "leader_name": "a***n",
        "min_next_bid": 1050, "reserve_met": True, "buy_now_available": False,
        "ends_at": "2030-01-01T00:00:00+00:00", "placed_at": "2030-01-01T00:00:00+00:00",
        "bid_id": str(uuid.uuid4())}, "bidding_service")
    assert room.emitted == []


def test_the_auction_room_hears_bids_without_account_ids():
    room = RoomRecorder()
    emitted = room.emitted
    auction_id, leader = str(uuid.uuid4()), str(uuid.uuid4())
    room.hear("bid.placed", {
        "auction_id": auction_id, "seq": 1, "current_price": 1000, "currency": "EUR",
        "bid_count": 1, "leader_id": leader, "leader_name": "a***n", "min_next_bid": 1050,
        "reserve_met": True, "ends_at": "2030-01-01T00:00:00Z", "placed_at": "x"},
        "bidding_service")
    room.hear("auction.ended", {
        "auction_id": auction_id, "seq": 2, "outcome": "sold", "winner_id": leader,
        "price": 1000, "currency": "EUR", "title": "Lamp", "seller_id": str(uuid.uuid4()),
        "ended_at": "2030-01-01T00:00:00Z"}, "bidding_service")
    assert [name for name, _, _ in emitted] == ["bid.placed", "auction.ended"]
    assert leader not in json.dumps([payload for _, payload, _ in emitted])
    assert emitted[1][1]["outcome"] == "sold"


def test_the_auction_room_hears_how_many_watch_but_not_who():
    recorder = RoomRecorder()
    auction_id, ann = str(uuid.uuid4()), str(uuid.uuid4())
    recorder.hear("auction.watched", {
        "auction_id": auction_id, "user_id": ann, "title": "Lamp",
        "ends_at": "2030-01-01T00:00:00Z", "watchers_count": 3, "watchers_seq": 7},
        "auction_service")
    recorder.hear("auction.unwatched", {  # an earlier release's: no count
        "auction_id": auction_id, "user_id": ann, "ends_at": "2030-01-01T00:00:00Z"},
        "auction_service")
    [(name, payload, room)] = recorder.emitted
    assert (name, room) == ("auction.watchers", f"auction:{auction_id}")
    assert {key: payload[key] for key in ("auction_id", "watchers_count", "watchers_seq")} == {
        "auction_id": auction_id, "watchers_count": 3, "watchers_seq": 7}
    assert ann not in json.dumps(payload) and "Lamp" not in json.dumps(payload)


# --- 14: smaller findings ---------------------------------------------------------------------


def signed_token(private_key_pem: str, **claims) -> str:
    import time

    import jwt

    from auction_common.keys import key_id, public_key_pem

    now = int(time.time())
    body = {"sub": str(uuid.uuid4()), "role": "user", "jti": uuid.uuid4().hex, "iat": now,
            "nbf": now, "exp": now + 600, "iss": "auction-platform", "aud": "auction-platform",
            **claims}
    return jwt.encode(body, private_key_pem, algorithm="RS256",
                      headers={"kid": key_id(public_key_pem(private_key_pem))})


AUTHENTICATED = [("users", "/api/users/me"), ("catalog", "/api/auctions/watching"),
                 ("catalog", "/api/auctions/mine"), ("bidding", "/api/bids/mine"),
                 ("notifications", "/api/notifications")]


@pytest.mark.parametrize("sub", ["not-a-uuid", "", 12345, ["x"], {"a": 1}])
@pytest.mark.parametrize("service, path", AUTHENTICATED)
def test_a_signed_token_whose_subject_is_not_an_account_id_is_a_401(clients, keypair, sub,
                                                                    service, path):
    token = signed_token(keypair[0].read_text(), sub=sub)
    answer = clients[service].get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("token", [
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "a.b.c", "Bearer", "x" * 50])
def test_a_refused_token_says_no_more_than_its_code(clients, token):
    answer = clients["catalog"].get("/api/auctions/watching",
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["details"] is None


@pytest.mark.parametrize("service, path", AUTHENTICATED)
def test_private_answers_are_never_stored_and_never_sniffed(clients, account, service, path):
    answer = clients[service].get(path, headers=account("kay").headers)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_public_answers_are_not_sniffed_either(clients):
    answer = clients["catalog"].get("/api/auctions")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in answer.headers.get("Cache-Control", "")


@pytest.mark.parametrize("service, prefix", [
    ("users", "/api/auth"), ("users", "/api/users"), ("catalog", "/api/auctions"),
    ("bidding", "/api/bids"), ("notifications", "/api/notifications")])
def test_metrics_are_not_served_under_the_public_prefixes(clients, service, prefix):
    assert clients[service].get(f"{prefix}/metrics").status_code == 404
    assert clients[service].get("/metrics").status_code == 200, "the scraper's own address"
    assert clients[service].get(f"{prefix}/readyz").status_code == 200


def test_a_socket_leaves_its_private_room_when_its_token_expires(users, account):
    import time

    from flask import Flask

    from auction_common.auth import init_jwt
    from bidding_service.realtime.fanout import attach_realtime, end_expired_identities

    app = Flask("realtime-test")
    init_jwt(app, users[0].extensions["settings"])
    socketio = attach_realtime(app, async_mode="threading", expiry_check_seconds=None)
    ann = account("ann")
    client = socketio.test_client(app, auth={"token": ann.tokens["access_token"]})
    assert client.is_connected()
    socketio.emit("notification", {"title": "hello"}, to=f"user:{ann.id}")
    assert [m["name"] for m in client.get_received()] == ["notification"]
    assert end_expired_identities(socketio, socketio.realtime_identities, time.time()) == 0
    assert end_expired_identities(socketio, socketio.realtime_identities,
                                  time.time() + 3600) == 1
    assert [m["name"] for m in client.get_received()] == ["session.expired"]
    socketio.emit("notification", {"title": "private"}, to=f"user:{ann.id}")
    assert client.get_received() == [], "no private news after the token's end"


def test_a_suspended_accounts_socket_loses_its_private_room_at_once(users, account):
    from flask import Flask

    from auction_common.auth import init_jwt
    from auction_common.events import make_envelope
    from bidding_service.realtime.fanout import attach_realtime, fan_out

    app = Flask("realtime-test")
    init_jwt(app, users[0].extensions["settings"])
    socketio = attach_realtime(app, async_mode="threading", expiry_check_seconds=None)
    ann = account("ann")
    client = socketio.test_client(app, auth={"token": ann.tokens["access_token"]})
    fan_out(socketio, make_envelope("user.updated", {
        "user_id": ann.id, "email": ann.email, "display_name": "ann", "role": "user",
        "status": "suspended"}, producer="user_service"))
    assert [m["name"] for m in client.get_received()] == ["session.expired"]
    socketio.emit("notification", {"title": "private"}, to=f"user:{ann.id}")
    assert client.get_received() == []
    again = socketio.test_client(app, auth={"token": ann.tokens["access_token"]})
    assert not again.is_connected(), "a suspended account's token joins no private room"
