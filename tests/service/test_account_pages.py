"""The frontend's account pages over a real user_service (served over HTTP on this run's
database): profile and password change, email choices, public profiles with the
administrator's suspend button, rate limits counted per browser address through the frontend;
and the Sell form sent twice."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from frontend.app import create_app as create_frontend
from frontend.settings import FrontendSettings
from tools.router import PrefixRouter
from user_service.app import create_app
from user_service.commands import create_admin

PASSWORD = "correct horse 42"


def serve(app):
    """Serve ``app`` on a free local port in a thread; returns (base URL, server)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server


@pytest.fixture(scope="module")
def user_api(users, notifications, catalog, settings_for):
    """user_service (with notification_service and auction_service under their prefixes) over
    HTTP, as the gateway would route them. user_service believes X-Forwarded-For from this
    machine (the frontend) and allows 3 logins a minute per address, to see the browser's
    address counted."""
    app = create_app(settings_for("user_service", trusted_proxies="127.0.0.1",
                                  rate_limit_per_ip="3/minute"), users[1])
    url, server = serve(PrefixRouter({"/api/notifications": notifications[0],
                                      "/api/auctions": catalog[0]}, app))
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def frontend(user_api):
    app = create_frontend(FrontendSettings(api_url=user_api, secret_key="test-secret",
                                           api_timeout_seconds=10))
    app.config.update(TESTING=True)
    return app


class Browser:
    """One browser (its own cookies and address) on the frontend."""

    def __init__(self, frontend, address: str = "198.51.100.1"):
        self.client = frontend.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address

    def page(self, path: str) -> tuple[int, str]:
        answer = self.client.get(path)
        return answer.status_code, answer.get_data(as_text=True)

    def post(self, path: str, form: dict, token_page: str = "/login"):
        _, page = self.page(token_page)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        return self.client.post(path, data={**form, "csrf_token": token})

    def register(self, name: str, email: str | None = None) -> str:
        email = email or f"{name.lower()}.{uuid.uuid4().hex[:8]}@example.com"
        answer = self.post("/register", {"email": email, "display_name": name,
                                         "password": PASSWORD, "next": "/account"})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        return email


def test_the_account_page_changes_the_display_name(frontend):
    ann = Browser(frontend)
    email = ann.register("Ann")
    status, page = ann.page("/account")
    assert status == 200 and email in page
    answer = ann.post("/account", {"action": "name", "display_name": "Annabel"}, "/account")
    assert answer.status_code == 302
    status, page = ann.page("/account")
    assert "Your display name is saved." in page
    assert 'id="nav-user"' in page and "Hello Annabel" in page


def test_the_account_page_chooses_which_notifications_come_by_email(frontend):
    cat = Browser(frontend)
    cat.register("Cat")
    status, page = cat.page("/account")
    assert status == 200
    boxes = dict(re.findall(r'name="email" value="(\w+)"( checked)?', page))
    assert set(boxes) == {"outbid", "won", "lost", "listing_ended", "ending_soon"}
    assert all(boxes.values()), "every kind comes by email at first"
    assert "Someone outbids me" in page
    # Untick "outbid" and "ending soon": the form sends the ticked ones only.
    shown = re.findall(r'name="shown" value="(\w+)"', page)
    answer = cat.post("/account", {"action": "email", "shown": shown,
                                   "email": ["won", "listing_ended"]}, "/account")
    assert answer.status_code == 302
    status, page = cat.page("/account")
    assert "Your email choices are saved." in page
    boxes = dict(re.findall(r'name="email" value="(\w+)"( checked)?', page))
    assert boxes == {"outbid": "", "won": " checked", "lost": "",
                     "listing_ended": " checked", "ending_soon": ""}


def test_the_account_page_still_works_while_notifications_are_away(users, settings_for):
    app = create_app(settings_for("user_service", trusted_proxies="127.0.0.1"), users[1])
    url, server = serve(app)  # user_service only: /api/notifications/... is not there
    try:
        alone = create_frontend(FrontendSettings(api_url=url, secret_key="test-secret",
                                                 api_timeout_seconds=10))
        alone.config.update(TESTING=True)
        dee = Browser(alone, address="198.51.100.9")
        dee.register("Dee")
        status, page = dee.page("/account")
        assert status == 200
        assert 'id="name-form"' in page and 'id="email-form"' not in page
        assert "Your email choices cannot be shown right now" in page
    finally:
        server.shutdown()


def test_the_account_page_changes_the_password_and_says_what_is_wrong(frontend):
    bob = Browser(frontend, "198.51.100.2")
    email = bob.register("Bob")
    differ = bob.post("/account", {"action": "password", "current_password": PASSWORD,
                                   "new_password": "new secret of bob 1",
                                   "confirm_password": "another"}, "/account")
    assert differ.status_code == 422
    assert "The two new passwords differ." in differ.get_data(as_text=True)
    wrong = bob.post("/account", {"action": "password", "current_password": "not it",
                                  "new_password": "new secret of bob 1",
                                  "confirm_password": "new secret of bob 1"}, "/account")
    assert wrong.status_code == 403
    assert "This is not your password." in wrong.get_data(as_text=True)
    weak = bob.post("/account", {"action": "password", "current_password": PASSWORD,
                                 "new_password": "password1",
                                 "confirm_password": "password1"}, "/account")
    assert weak.status_code == 422
    assert "most common passwords" in weak.get_data(as_text=True)
    done = bob.post("/account", {"action": "password", "current_password": PASSWORD,
                                 "new_password": "new secret of bob 1",
                                 "confirm_password": "new secret of bob 1"}, "/account")
    assert done.status_code == 302
    assert "other sessions are signed out" in bob.page("/account")[1]
    elsewhere = Browser(frontend, "198.51.100.3")
    relogin = elsewhere.post("/login", {"email": email, "password": "new secret of bob 1",
                                        "next": "/account"})
    assert relogin.status_code == 302


def test_a_weak_password_is_explained_on_the_register_page(frontend):
    cat = Browser(frontend, "198.51.100.4")
    answer = cat.post("/register", {"email": f"cat.{uuid.uuid4().hex[:6]}@example.com",
                                    "display_name": "Cat", "password": "iloveyou"})
    assert answer.status_code == 422
    assert "one of the most common passwords" in answer.get_data(as_text=True)


def test_an_administrator_suspends_and_restores_from_the_profile_page(frontend,
                                                                       settings_for):
    dan = Browser(frontend, "198.51.100.5")
    dan_email = dan.register("Dan")
    dan_id = _my_id(dan)
    visitor = Browser(frontend, "198.51.100.6")
    status, page = visitor.page(f"/users/{dan_id}")
    assert status == 200 and "Dan" in page
    assert "suspend-user" not in page and "@example.com" not in page

    admin_email = f"admin.{uuid.uuid4().hex[:6]}@example.com"
    create_admin(settings_for("user_service"), ["--email", admin_email, "--password", PASSWORD])
    admin = Browser(frontend, "198.51.100.7")
    assert admin.post("/login", {"email": admin_email, "password": PASSWORD}).status_code == 302
    status, page = admin.page(f"/users/{dan_id}")
    assert 'id="suspend-user"' in page and 'id="profile-status">active' in page
    answer = admin.post(f"/users/{dan_id}/status", {"action": "suspend"}, f"/users/{dan_id}")
    assert answer.status_code == 302
    status, page = admin.page(f"/users/{dan_id}")
    assert "is suspended" in page and 'id="unsuspend-user"' in page
    assert dan.page("/account")[0] in (302, 403), "the suspended user's pages stop working"
    refused = Browser(frontend, "198.51.100.8").post(
        "/login", {"email": dan_email, "password": PASSWORD})
    assert "This account is suspended." in refused.get_data(as_text=True)
    admin.post(f"/users/{dan_id}/status", {"action": "unsuspend"}, f"/users/{dan_id}")
    assert 'id="suspend-user"' in admin.page(f"/users/{dan_id}")[1]
    nobody = visitor.post(f"/users/{dan_id}/status", {"action": "suspend"}, f"/users/{dan_id}")
    assert nobody.status_code == 302 and "/login" in nobody.headers["Location"]


def test_login_limits_count_the_browsers_address_not_the_frontends(frontend):
    eve = Browser(frontend, "203.0.113.50")
    for _ in range(3):
        eve.post("/login", {"email": "nobody@example.com", "password": "guess"})
    answer = eve.post("/login", {"email": "nobody@example.com", "password": "guess"})
    assert answer.status_code == 429
    assert "Too many attempts" in answer.get_data(as_text=True)
    other = Browser(frontend, "203.0.113.51")
    assert other.post("/login", {"email": "nobody@example.com",
                                 "password": "guess"}).status_code == 401


def _my_id(browser: Browser) -> str:
    with browser.client.session_transaction() as session:
        return session["user"]["id"]


def test_the_sell_form_sent_twice_lists_the_item_once(frontend):
    eve = Browser(frontend, address="198.51.100.7")
    eve.register("Eve")
    status, page = eve.page("/sell")
    assert status == 200
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {"title": "Twice-sent gramophone", "description": "Plays.", "category": "music",
            "condition": "used", "currency": "EUR", "starting_price": "25.00",
            "reserve_price": "", "buy_now_price": "", "anti_sniping_seconds": "120",
            "duration_minutes": "60", "idempotency_key": key}
    first = eve.post("/sell", form, "/sell")
    again = eve.post("/sell", form, "/sell")  # a double click, or a resend after a lost answer
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"], "the same listing"
    assert eve.page("/sell")[1].count('name="idempotency_key"') == 1
    assert key not in eve.page("/sell")[1], "a new form, a new key"
