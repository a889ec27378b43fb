"""What an outside probe tried (issue 12), each answered by the real apps on real PostgreSQL:
bodies nested a thousand deep, forged cursors, lax money, invisible titles and names."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from tests.service.test_catalog import list_item, listing

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
