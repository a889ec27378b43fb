"""What the frontend does on its own: forms, CSRF, cookies, errors, formatting.

Pages that show the API's data are covered end to end by the system tests.
"""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest

from auction_common.money import format_money, major_units, parse_minor_units
from frontend.api_client import ApiErrorAnswer
from frontend.auth import BrowserTokens, RefreshCoordinator, safe_next
from frontend.presenters import (
    FALLBACK_CATEGORIES,
    auction_view,
    bid_refused_message,
    category_options,
)
from frontend.settings import FrontendSettings, load
from frontend.times import iso_utc, time_left, when

# -- money ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (1250, "EUR", "EUR 12.50"),
    (5, "USD", "USD 0.05"),
    (0, "GBP", "GBP 0.00"),
    (100, "EUR", "EUR 1.00"),
    (123456789, "USD", "USD 1,234,567.89"),
    (-250, "EUR", "EUR -2.50"),
    (1500, "JPY", "JPY 1,500"),
    (1234567, "KWD", "KWD 1,234.567"),
    (5, "BHD", "BHD 0.005"),
    (None, "EUR", "—"),
])
def test_money_is_shown_in_major_units_with_its_currency(minor, currency, shown):
    assert format_money(minor, currency) == shown


@pytest.mark.parametrize(("typed", "minor"), [
    ("12.50", 1250), ("12.5", 1250), ("12", 1200), (" 0.01 ", 1), ("12,50", 1250),
    ("1000000", 100000000),
])
def test_an_amount_typed_in_major_units_becomes_minor_units(typed, minor):
    assert parse_minor_units(typed, "EUR") == minor


@pytest.mark.parametrize(("typed", "reason"), [
    ("", "Enter an amount"), ("abc", "such as 12.50"), ("12.345", "at most 2 decimal"),
    ("0", "greater than zero"), ("-5", "greater than zero"), ("NaN", "such as 12.50"),
    ("1,000.50", "such as 12.50"), ("Infinity", "such as 12.50"),
])
def test_an_amount_that_is_not_money_is_refused_with_a_reason(typed, reason):
    with pytest.raises(ValueError, match=reason):
        parse_minor_units(typed, "EUR")


def test_the_bid_field_is_prefilled_in_major_units():
    assert major_units(1300, "EUR") == "13.00"
    assert major_units(7, "USD") == "0.07"


# -- time -----------------------------------------------------------------------------------------

NOW = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "shown"), [
    (timedelta(days=2, hours=4, minutes=3), "2 d 4 h"),
    (timedelta(hours=3, minutes=5, seconds=9), "3 h 05 min"),
    (timedelta(minutes=4, seconds=5), "4 min 05 s"),
    (timedelta(seconds=12), "12 s"),
    (timedelta(seconds=0), "ended"),
    (timedelta(minutes=-1), "ended"),
])
def test_time_left_is_compact(delta, shown):
    assert time_left(NOW + delta, now=NOW) == shown


def test_time_left_reads_the_apis_iso_strings():
    assert time_left("2025-01-31T12:10:00Z", now=NOW) == "10 min 00 s"
    assert time_left(None, now=NOW) == "—"


def test_a_time_is_said_relative_and_absolute_with_its_zone():
    assert when("2025-01-31T15:12:00Z", now=NOW) == "in 3 h 12 min · 31 Jan 2025, 15:12 UTC"
    assert when("2025-01-31T11:55:00Z", now=NOW) == "5 min 00 s ago · 31 Jan 2025, 11:55 UTC"


def test_the_end_is_sent_as_iso_8601_utc_with_z():
    assert iso_utc(datetime(2025, 1, 31, 13, 0, 5, 123, tzinfo=UTC)) == "2025-01-31T13:00:05Z"


# -- pages ----------------------------------------------------------------------------------------


def test_the_login_page_renders_a_form_with_a_csrf_token(client):
    response = client.get("/login")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="login-form"' in page
    assert 'name="csrf_token"' in page
    assert 'id="nav-login"' in page and 'id="nav-register"' in page
    assert 'href="/mailbox"' not in page  # a development tool, not the product's menu
    assert 'href="#main"' in page  # the skip link


def test_the_register_page_renders(client):
    response = client.get("/register")
    assert response.status_code == 200
    assert 'id="register-form"' in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/register", "/logout", "/sell",
                                  "/auctions/abc/bid", "/auctions/abc/buy-now",
                                  "/auctions/abc/watch", "/auctions/abc/edit",
                                  "/auctions/abc/cancel", "/auctions/abc/photos",
                                  "/auctions/abc/photos/i1/delete"])
def test_a_post_without_the_csrf_token_is_refused_with_a_clear_page(browser, path):
    browser.csrf_token()
    response = browser.post_form(path, {"email": "a@example.com"}, with_token=False)
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert 'id="error-page"' in page
    assert "security token" in page


def test_a_post_with_another_sessions_token_is_refused(app, browser):
    other = app.test_client()
    foreign = other.get("/login").get_data(as_text=True).split('name="csrf-token" content="')[1]
    foreign = foreign.split('"')[0]
    browser.csrf_token()
    response = browser.client.post("/login", data={"csrf_token": foreign, "email": "a@b.c"})
    assert response.status_code == 403


def test_the_pages_script_gets_a_json_refusal_without_the_csrf_header(browser):
    browser.csrf_token()
    response = browser.client.post("/auctions/abc/bid", data={"amount": "10"},
                                   headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_the_csrf_token_is_accepted_as_a_header(browser):
    token = browser.csrf_token()
    response = browser.client.post("/auctions/abc/bid", data={"amount": "10"},
                                   headers={"Accept": "application/json", "X-CSRF-Token": token})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "login_required"


def test_a_login_form_left_empty_says_what_is_missing(browser):
    response = browser.post_form("/login", {"email": "ann@example.com", "password": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a password." in page
    assert 'value="ann@example.com"' in page


def test_when_the_api_is_down_the_form_says_so_and_keeps_what_was_typed(browser):
    response = browser.post_form("/register", {
        "email": "ann@example.com", "display_name": "Ann", "password": "s3cret-password",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "unavailable" in page
    assert 'value="ann@example.com"' in page and 'value="Ann"' in page
    assert "s3cret-password" not in page


def test_the_auction_list_says_when_the_service_is_unavailable(client):
    response = client.get("/")
    assert response.status_code == 503
    assert "unavailable" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/sell", "/me/notifications", "/me/bids", "/me/watching",
                                  "/me/listings", "/auctions/abc/edit"])
def test_pages_for_members_send_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


def test_a_bid_from_a_visitor_without_script_goes_to_sign_in_and_back_to_the_auction(browser):
    token = browser.csrf_token()
    response = browser.client.post(
        "/auctions/abc/bid", data={"amount": "10", "csrf_token": token},
        headers={"Referer": "http://localhost/auctions/abc"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/auctions/abc"


def test_buy_it_now_from_a_visitors_page_script_asks_to_sign_in(browser):
    token = browser.csrf_token()
    response = browser.client.post("/auctions/abc/buy-now", data={"idempotency_key": "k1"},
                                   headers={"Accept": "application/json", "X-CSRF-Token": token})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "login_required"


@pytest.mark.parametrize("after_seq", ["-1", "x", "1.5"])
def test_the_history_for_the_pages_script_wants_a_whole_seq(client, after_seq):
    response = client.get(f"/auctions/abc/history.json?after_seq={after_seq}")
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "after_seq"


def test_the_history_for_the_pages_script_says_when_the_service_is_unavailable(client):
    response = client.get("/auctions/abc/history.json?after_seq=3")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "api_unavailable"


def test_photos_may_be_larger_than_any_other_form(browser):
    token = browser.csrf_token()
    photo = b"\x89PNG" + b"0" * (1024 * 1024)
    upload = browser.client.post("/auctions/abc/photos", data={
        "csrf_token": token, "file": (io.BytesIO(photo), "lamp.png", "image/png"),
    }, content_type="multipart/form-data")
    assert upload.status_code == 302  # past the size limit and CSRF: now sign in
    assert upload.headers["Location"].startswith("/login")
    too_large = browser.client.post("/login", data={"csrf_token": token, "email": "x" * 300_000})
    assert too_large.status_code == 413
    assert "a photo may be at most 10 MB" in too_large.get_data(as_text=True)


def test_photos_larger_than_the_gateway_takes_are_refused_with_a_clear_answer(browser):
    token = browser.csrf_token()
    photo = b"0" * (12 * 1024 * 1024 + 1)
    response = browser.client.post("/auctions/abc/photos", data={
        "csrf_token": token, "file": (io.BytesIO(photo), "lamp.png", "image/png"),
    }, content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert "one at a time" in response.get_json()["message"]


def signed_in(browser) -> None:
    """A browser holding tokens (which the unreachable API cannot check)."""
    browser.client.set_cookie("access_token", "a")
    browser.client.set_cookie("refresh_token", "r")


def test_the_sell_form_offers_every_term_of_a_listing(browser):
    signed_in(browser)
    page = browser.client.get("/sell").get_data(as_text=True)
    for name in ("title", "description", "category", "condition", "currency", "starting_price",
                 "reserve_price", "buy_now_price", "anti_sniping_seconds", "duration_minutes"):
        assert f'name="{name}"' in page, name
    assert "Like new" in page and "Collectibles" in page  # the lists when the API is away


def test_a_sell_form_with_mistakes_says_what_to_correct_and_keeps_what_was_typed(browser):
    signed_in(browser)
    response = browser.post_form("/sell", {
        "title": "Brass telescope", "category": "collectibles", "currency": "EUR",
        "starting_price": "20", "reserve_price": "10", "buy_now_price": "abc",
        "anti_sniping_seconds": "120", "duration_minutes": "60",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The reserve must be above the starting price." in page
    assert "Enter an amount such as 12.50." in page
    assert 'value="Brass telescope"' in page and 'value="10"' in page


def test_a_correct_sell_form_says_when_the_catalog_is_unavailable(browser):
    signed_in(browser)
    response = browser.post_form("/sell", {
        "title": "Brass telescope", "category": "collectibles", "currency": "EUR",
        "starting_price": "20", "anti_sniping_seconds": "120", "duration_minutes": "60",
    })
    assert response.status_code == 503
    assert "unavailable" in response.get_data(as_text=True)


def test_logout_clears_the_token_cookies_even_when_the_api_is_down(browser):
    browser.client.set_cookie("access_token", "a")
    browser.client.set_cookie("refresh_token", "r")
    response = browser.post_form("/logout", {})
    assert response.status_code == 302
    cleared = [h for h in response.headers.getlist("Set-Cookie")
               if h.startswith(("access_token=;", "refresh_token=;"))]
    assert len(cleared) == 2
    assert all("HttpOnly" in h and "SameSite=Lax" in h for h in cleared)


def test_answers_carry_security_headers_and_a_locked_down_session_cookie(client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    session_cookie = next(h for h in response.headers.getlist("Set-Cookie")
                          if h.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_the_frontend_reports_itself_alive(client):
    assert client.get("/healthz").get_json()["status"] == "ok"


@pytest.mark.parametrize(("target", "safe"), [
    ("/auctions/1", "/auctions/1"), ("/?cursor=x", "/?cursor=x"), (None, "/"),
    ("https://evil.example/", "/"), ("//evil.example/", "/"), ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_redirects_after_sign_in_stay_on_this_site(target, safe):
    assert safe_next(target) == safe


# -- settings -------------------------------------------------------------------------------------


def test_settings_need_the_api_url(monkeypatch):
    monkeypatch.delenv("API_URL", raising=False)
    with pytest.raises(SystemExit, match="API_URL"):
        load()


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("API_URL", "http://gateway:8080/")
    monkeypatch.setenv("COOKIE_SECURE", "true")
    settings = load()
    assert settings.api_url == "http://gateway:8080"
    assert settings.cookie_secure is True
    assert "dev-only" not in repr(FrontendSettings(api_url="http://x"))


# -- what the pages show --------------------------------------------------------------------------

LISTING = {"id": "a1", "title": "Lamp", "description": "Brass", "seller_id": "s1",
           "currency": "EUR", "starting_price": 1000, "ends_at": "2025-01-31T13:00:00Z",
           "status": "live", "current_price": 1000, "bid_count": 0, "category": "home"}


def test_an_auction_without_live_state_yet_shows_the_catalog():
    view = auction_view(LISTING, None, None, "2025-01-31T12:00:00Z")
    assert (view["current_price"], view["bid_count"], view["min_next_bid"]) == (1000, 0, 1000)
    assert view["min_next_bid_input"] == "10.00"
    assert view["seq"] == 0 and view["has_live_state"] is False


def test_the_live_state_wins_and_the_leader_is_recognised():
    state = {"status": "live", "current_price": 1500, "bid_count": 2, "leader_id": "u1",
             "min_next_bid": 1600, "ends_at": "2025-01-31T13:02:00Z", "seq": 7,
             "server_time": "2025-01-31T12:00:01Z"}
    view = auction_view(LISTING, state, {"id": "u1", "display_name": "Ann"}, "x")
    assert view["is_leader"] is True and view["is_seller"] is False
    assert (view["current_price"], view["min_next_bid"], view["seq"]) == (1500, 1600, 7)
    assert view["ends_at"] == "2025-01-31T13:02:00Z"
    assert view["server_time"] == "2025-01-31T12:00:01Z"


def test_a_too_low_bid_says_the_minimum():
    message = bid_refused_message("too_low", "Too low", {"min_next_bid": 1300}, "EUR")
    assert message == "Your bid is too low: bid at least EUR 13.00."


def test_categories_fall_back_to_the_fixed_list():
    assert [(c["id"], c["name"]) for c in category_options(None)] == list(FALLBACK_CATEGORIES)
    assert category_options([{"id": "art", "name": "Art"}]) == [{"id": "art", "name": "Art"}]


def test_validation_details_become_messages_by_field():
    error = ApiErrorAnswer(422, "validation_error", "Invalid", [
        {"field": "body.email", "message": "not an email"},
        {"field": "password", "message": "too short"},
    ])
    assert error.field_errors == {"email": "not an email", "password": "too short"}


# -- tokens ---------------------------------------------------------------------------------------


def test_a_refresh_answer_replaces_both_tokens_and_the_user():
    tokens = BrowserTokens("old-access", "old-refresh")
    tokens.replace({"access_token": "a2", "refresh_token": "r2",
                    "user": {"id": 7, "display_name": "Ann", "email": "ann@example.com"}})
    assert (tokens.access_token, tokens.refresh_token, tokens.changed) == ("a2", "r2", True)
    assert tokens.user == {"id": "7", "display_name": "Ann", "role": "user"}


def test_concurrent_requests_share_one_refresh_of_the_same_token():
    coordinator = RefreshCoordinator()
    calls = []
    started = threading.Event()

    def refresh(token: str) -> dict:
        calls.append(token)
        assert started.wait(timeout=5)  # still in flight while every other request arrives
        return {"access_token": "new", "refresh_token": "rotated"}

    results = []
    threads = [threading.Thread(target=lambda: results.append(coordinator.refresh("r", refresh)))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join()
    assert calls == ["r"]
    assert results == [{"access_token": "new", "refresh_token": "rotated"}] * 5


def test_a_failed_refresh_is_not_remembered():
    coordinator = RefreshCoordinator()

    def refused(token: str) -> dict:
        raise ApiErrorAnswer(401, "invalid_refresh_token", "no")

    with pytest.raises(ApiErrorAnswer):
        coordinator.refresh("r", refused)
    assert coordinator.refresh("r", lambda token: {"access_token": "ok"}) == {"access_token": "ok"}


def test_a_price_filter_that_is_not_an_amount_is_said_next_to_the_search(client):
    response = client.get("/?min_price=cheap")
    assert response.status_code == 422
    assert "Lowest price: enter an amount" in response.get_data(as_text=True)
    response = client.get("/?min_price=50&max_price=20")
    assert "The highest price is below the lowest price." in response.get_data(as_text=True)
