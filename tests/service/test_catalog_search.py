"""Search and browse on real PostgreSQL: ranking, web-search syntax, prefixes, filters, every
sort, and cursor pages that neither repeat nor skip while listings keep arriving.

The database is shared with other tests: each test searches words of its own or filters by a
seller of its own."""

from __future__ import annotations

import random
import string

import pytest

from tests.service import test_catalog as base
from tests.service.test_catalog import auction_ended, bid_placed, in_, list_item

client, db, deliver = base.client, base.db, base.deliver  # the catalog's fixtures

SORTS = ["newly_listed", "ending_soon", "price_asc", "price_desc", "most_bids"]


def word() -> str:
    """A word no other listing uses (consonants only: stemming leaves it alone)."""
    letters = "bcdfghjklmnpqrtvwxz"
    return "zq" + "".join(random.choice(letters) for _ in range(10))


def search(client, **query) -> dict:
    answer = client.get("/api/auctions", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def ids(client, **query) -> list[str]:
    return [item["id"] for item in search(client, limit=100, **query)["items"]]


def every_page(client, limit: int, between=None, **query) -> list[str]:
    """Follow the cursors to the end; ``between(page_number)`` runs before each next page."""
    seen, cursor, pages = [], None, 0
    while True:
        page = search(client, limit=limit, **query, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            return seen
        if between:
            between(pages)


def refused(client, **query) -> list[str]:
    answer = client.get("/api/auctions", query_string=query)
    assert answer.status_code == 422, answer.get_json()
    return [d["field"] for d in answer.get_json()["error"]["details"]]


# --- full text --------------------------------------------------------------------------------


def test_title_matches_outrank_description_matches(client, account):
    seller, w = account("seller"), word()
    in_description = list_item(client, seller, title="Brass lamp",
                               description=f"Comes with a {w} shade.")["id"]
    in_title = list_item(client, seller, title=f"{w} lamp", description="Brass.")["id"]
    everywhere = list_item(client, seller, title=f"{w} lamp, {w} finish",
                           description=f"The {w} is original.")["id"]
    list_item(client, seller, title="Unrelated vase")
    assert ids(client, q=w) == [everywhere, in_title, in_description]


def test_every_word_must_match(client, account):
    seller, w1, w2 = account("seller"), word(), word()
    both = list_item(client, seller, title=f"{w1} {w2} radio")["id"]
    list_item(client, seller, title=f"{w1} radio")
    assert ids(client, q=f"{w1} {w2} ") == [both]


def test_web_search_syntax_phrases_or_and_not(client, account):
    seller, w1, w2, w3 = account("seller"), word(), word(), word()
    adjacent = list_item(client, seller, title=f"{w1} {w2} clock")["id"]
    apart = list_item(client, seller, title=f"{w2} wall {w1} clock")["id"]
    with_w3 = list_item(client, seller, title=f"{w1} {w3} clock")["id"]
    assert ids(client, q=f'"{w1} {w2}"') == [adjacent]
    assert set(ids(client, q=f"{w1} -{w3}")) == {adjacent, apart}
    assert set(ids(client, q=f"{w2} or {w3}")) == {adjacent, apart, with_w3}


def test_the_word_being_typed_matches_as_a_prefix(client, account):
    seller, w = account("seller"), word()
    found = list_item(client, seller, title=f"Vintage {w} camera")["id"]
    assert ids(client, q=w[:8]) == [found]
    assert ids(client, q=f"vintage {w[:9]}") == [found]
    assert ids(client, q=f"{w} cam") == [found]
    assert ids(client, q=f"{w[:8]} ") == []  # a finished word must match whole
    assert ids(client, q=f"vint {w}") == []  # only the last word is still being typed
    assert ids(client, q=f"{w} or nothingmatchesthis") == [found]


def test_english_stemming_finds_other_forms(client, account):
    seller, w = account("seller"), word()
    found = list_item(client, seller, title=f"{w} cameras, lamps and clocks")["id"]
    assert ids(client, q=f"{w} camera lamp clock ") == [found]


@pytest.mark.parametrize("q", ["the", "   ", "&|!():*'\\", '"unbalanced', "-", "or", "a b c",
                               "x" * 200, "ünïcödé ★ 日本語", "a:* & b"])
def test_odd_searches_answer_normally(client, q):
    page = search(client, q=q)
    assert isinstance(page["items"], list)


def test_a_search_pages_by_relevance(client, account):
    seller, w = account("seller"), word()
    made = [list_item(client, seller, title=f"{w} " * (i % 3 + 1) + "item")["id"]
            for i in range(7)]
    everything = ids(client, q=w)
    assert sorted(everything) == sorted(made)
    assert every_page(client, 2, q=w) == everything
    assert every_page(client, 3, q=w, sort="relevance") == everything


def test_title_matches_come_first_and_paging_crosses_into_the_others(client, account):
    seller, w1, w2 = account("seller"), word(), word()
    in_titles = [list_item(client, seller, title=f"{w1} {w2} lot {i}")["id"] for i in range(3)]
    # Both words many times, close together, but in the description only.
    in_descriptions = [list_item(client, seller, title=f"Lot {i}",
                                 description=f"{w1} {w2} " * (i + 2))["id"] for i in range(3)]
    everything = ids(client, q=f"{w1} {w2} ")
    assert set(everything[:3]) == set(in_titles)
    assert set(everything[3:]) == set(in_descriptions)
    for size in (1, 2, 4):
        assert every_page(client, size, q=f"{w1} {w2} ") == everything


# --- filters ----------------------------------------------------------------------------------


def test_filters_by_category_seller_currency_and_price(client, account):
    ann, bob, w = account("ann"), account("bob"), word()
    home_eur = list_item(client, ann, title=f"{w} chair", category="home",
                         starting_price=5000)["id"]
    home_usd = list_item(client, ann, title=f"{w} table", category="home", currency="USD",
                         starting_price=20000)["id"]
    art = list_item(client, ann, title=f"{w} print", category="art", starting_price=900)["id"]
    bobs = list_item(client, bob, title=f"{w} poster", category="art",
                     starting_price=3000)["id"]
    assert set(ids(client, q=w, category="home")) == {home_eur, home_usd}
    assert set(ids(client, q=w, seller_id=bob.id)) == {bobs}
    assert set(ids(client, q=w, currency="usd")) == {home_usd}
    assert set(ids(client, q=w, min_price=3000)) == {home_eur, home_usd, bobs}
    assert set(ids(client, q=w, max_price=3000)) == {art, bobs}
    assert set(ids(client, q=w, min_price=3000, max_price=5000)) == {home_eur, bobs}
    assert set(ids(client, q=w, category="art", max_price=1000)) == {art}


def test_the_price_filter_follows_bids(client, account, deliver):
    seller, w = account("seller"), word()
    auction = list_item(client, seller, title=f"{w} bike", starting_price=1000)
    deliver(bid_placed(auction, seq=1, price=8000, leader_id=account("ann").id, bid_count=1))
    assert ids(client, q=w, min_price=5000) == [auction["id"]]
    assert ids(client, q=w, max_price=5000) == []


def test_filters_by_status(client, account, deliver):
    seller = account("seller")
    live = list_item(client, seller)["id"]
    scheduled = list_item(client, seller, starts_at=in_(3600), ends_at=in_(7200))["id"]
    ended = list_item(client, seller)
    deliver(auction_ended(ended, seq=1, winner_id=None, price=None))
    cancelled = list_item(client, seller)["id"]
    client.post(f"/api/auctions/{cancelled}/cancel", headers=seller.headers)
    by_status = {status: ids(client, seller_id=seller.id, status=status)
                 for status in ("live", "scheduled", "ended", "cancelled")}
    assert by_status == {"live": [live], "scheduled": [scheduled], "ended": [ended["id"]],
                         "cancelled": [cancelled]}


def test_open_means_live_or_scheduled(client, account, deliver):
    seller = account("seller")
    live = list_item(client, seller, ends_at=in_(3600))["id"]
    scheduled = list_item(client, seller, starts_at=in_(3600), ends_at=in_(7200))["id"]
    ended = list_item(client, seller)
    deliver(auction_ended(ended, seq=1, winner_id=None, price=None))
    cancelled = list_item(client, seller)["id"]
    client.post(f"/api/auctions/{cancelled}/cancel", headers=seller.headers)
    assert ids(client, seller_id=seller.id, status="open", sort="ending_soon") == [
        live, scheduled]


def test_filters_by_condition_and_counts_the_matches(client, account):
    seller, w = account("seller"), word()
    used = [list_item(client, seller, title=f"{w} radio {n}", condition="used")["id"]
            for n in range(3)]
    list_item(client, seller, title=f"{w} radio new", condition="new")
    assert sorted(ids(client, q=w, condition="used")) == sorted(used)
    page = search(client, q=w, condition="used", limit=2)
    assert (len(page["items"]), page["total"], page["total_capped"]) == (2, 3, False)
    assert search(client, q=w)["total"] == 4
    assert refused(client, condition="mint") == ["condition"]


def test_the_count_of_matches_stops_at_the_cap_whether_titles_or_descriptions_match(
        client, account, monkeypatch):
    """Matches are counted among the titles first (cheap: the long search vectors are not
    read); only when those do not pass the cap are all matches counted. A ``-word`` still
    excludes the listings whose description has it."""
    from auction_service import queries

    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    seller, w, v = account("seller"), word(), word()
    for n in range(2):
        list_item(client, seller, title=f"{w} lamp {n}")
    for n in range(2):
        list_item(client, seller, title=f"lamp {n}", description=f"A {w} in brass.")
    assert (search(client, q=w)["total"], search(client, q=w)["total_capped"]) == (3, True)
    assert (search(client, q=f"{w} lamp")["total"], search(client, q=v)["total"]) == (3, 0)
    for n in range(4):  # more title matches than the cap, none of them a match
        list_item(client, seller, title=f"{w} clock {n}", description=f"Comes with a {v}.")
    assert search(client, q=f"{w} clock")["total"] == 3
    page = search(client, q=f"{w} clock -{v}")
    assert (page["total"], page["total_capped"], page["items"]) == (0, False, [])
    page = search(client, q=f"{w} -{v}", sort="newly_listed")
    assert (page["total"], page["total_capped"]) == (3, True)
    assert len(search(client, q=f"{w} -{v}", limit=100)["items"]) == 4


def test_ending_soon_leaves_out_what_is_over_unless_asked(client, account, deliver):
    seller = account("seller")
    later = list_item(client, seller, ends_at=in_(7200))["id"]
    sooner = list_item(client, seller, ends_at=in_(3600))["id"]
    ended = list_item(client, seller)
    deliver(auction_ended(ended, seq=1, winner_id=None, price=None))
    cancelled = list_item(client, seller)["id"]
    client.post(f"/api/auctions/{cancelled}/cancel", headers=seller.headers)
    assert ids(client, seller_id=seller.id, sort="ending_soon") == [sooner, later]
    assert ids(client, seller_id=seller.id, sort="ending_soon", status="ended") == [
        ended["id"]]


# --- sorts ------------------------------------------------------------------------------------


@pytest.fixture
def shop(client, account, deliver):
    """Six listings of one seller with distinct prices, ends and bid counts (ties included)."""
    seller, bidder = account("seller"), account("bidder")
    specs = [  # (starting price, minutes to the end, bids)
        (3000, 50, 0), (1000, 20, 4), (5000, 90, 1), (2000, 10, 2), (4000, 70, 2),
        (1000, 30, 0),
    ]
    made = []
    for price, minutes, bids in specs:
        auction = list_item(client, seller, starting_price=price, ends_at=in_(minutes * 60))
        for n in range(1, bids + 1):
            deliver(bid_placed(auction, seq=n, price=price, leader_id=bidder.id, bid_count=n))
        made.append({**auction, "bids": bids, "minutes": minutes})
    return seller, made


def expected_order(made: list[dict], sort: str) -> list[str]:
    by = {
        "newly_listed": lambda a: (a["created_at"], a["id"]),
        "ending_soon": lambda a: (a["minutes"], a["id"]),
        "price_asc": lambda a: (a["starting_price"], a["id"]),
        "price_desc": lambda a: (a["starting_price"], a["id"]),
        "most_bids": lambda a: (a["bids"], a["id"]),
    }[sort]
    return [a["id"] for a in sorted(made, key=by,
                                    reverse=sort in ("newly_listed", "price_desc", "most_bids"))]


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_orders_ties_by_id_and_pages_through_the_same_order(client, shop, sort):
    seller, made = shop
    everything = ids(client, seller_id=seller.id, sort=sort)
    assert everything == expected_order(made, sort)
    assert every_page(client, 1, seller_id=seller.id, sort=sort) == everything
    assert every_page(client, 4, seller_id=seller.id, sort=sort) == everything


def test_newly_listed_is_the_default_order(client, shop):
    seller, made = shop
    assert ids(client, seller_id=seller.id) == expected_order(made, "newly_listed")


@pytest.mark.parametrize("sort", [*SORTS, "relevance"])
def test_paging_neither_repeats_nor_skips_while_new_listings_arrive(client, account, sort):
    seller, w = account("seller"), word()
    rng = random.Random(sort)

    def new_listing(i: int) -> str:
        return list_item(client, seller, title=f"{w} " * rng.randint(1, 3) + f"lot {i}",
                         starting_price=rng.choice([1000, 1500, 2000, 2500]),
                         ends_at=in_(rng.randint(10, 120) * 60))["id"]

    before = [new_listing(i) for i in range(9)]
    arrived: list[str] = []

    def more_arrive(page_number: int) -> None:
        arrived.extend(new_listing(100 + page_number * 10 + k) for k in range(2))

    seen = every_page(client, 2, q=w, seller_id=seller.id, sort=sort, between=more_arrive)
    assert len(seen) == len(set(seen)), "a listing was shown twice"
    assert set(before) <= set(seen), "a listing that was there all along was skipped"
    assert set(seen) <= set(before) | set(arrived)


# --- bad queries ------------------------------------------------------------------------------


@pytest.mark.parametrize("query, field", [
    ({"sort": "cheapest"}, "sort"),
    ({"sort": "relevance"}, "sort"),
    ({"min_price": -1}, "min_price"),
    ({"max_price": "ten"}, "max_price"),
    ({"min_price": 500, "max_price": 100}, "max_price"),
    ({"q": "x" * 201}, "q"),
    ({"q": "lamp\x00"}, "q"),
    ({"category": "spaceships"}, "category"),
    ({"category": "\x00"}, "category"),
    ({"currency": "XYZ"}, "currency"),
    ({"status": "sold"}, "status"),
])
def test_a_bad_search_is_refused_naming_the_parameter(client, query, field):
    assert refused(client, **query) == [field]


def test_a_cursor_only_continues_the_sort_it_came_from(client, account):
    seller = account("seller")
    for _ in range(3):
        list_item(client, seller)
    cursor = search(client, seller_id=seller.id, limit=1, sort="price_asc")["next_cursor"]
    assert cursor
    assert refused(client, seller_id=seller.id, sort="most_bids", cursor=cursor) == ["cursor"]
    assert search(client, seller_id=seller.id, sort="price_asc", cursor=cursor)["items"]


@pytest.mark.parametrize("cursor", ["x", "e30", "eyJzIjoibmV3bHlfbGlzdGVkIn0",
                                    "".join(random.choices(string.ascii_letters, k=40))])
def test_a_forged_cursor_is_refused(client, cursor):
    assert refused(client, cursor=cursor) == ["cursor"]
