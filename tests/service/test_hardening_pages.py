"""The frontend over a real user_service (issue 12): the CSRF token is good for one login, a
line break in ``next`` goes home, the session secret is the installation's own."""

from __future__ import annotations

import itertools
import re

import pytest

from frontend.app import create_app as create_frontend
from frontend.settings import DEV_SECRET_KEY, FrontendSettings
from tests.service import test_account_pages as pages
from tests.service.test_account_pages import PASSWORD, Browser

user_api = pages.user_api


@pytest.fixture(scope="module")
def frontend(user_api, tmp_path_factory):
    settings = FrontendSettings(api_url=user_api, api_timeout_seconds=10,
                                secret_key_file=tmp_path_factory.mktemp("var") / "secret")
    app = create_frontend(settings)
    app.config.update(TESTING=True)
    return app


_addresses = itertools.count(20)


def browser(frontend) -> Browser:
    """A browser at an address of its own (the API limits logins per address: 3 a minute)."""
    return Browser(frontend, address=f"203.0.113.{next(_addresses)}")


def token_of(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_a_csrf_token_from_before_the_login_is_refused_after_it(frontend):
    ann = browser(frontend)
    email = ann.register("Ann")
    ann.client.post("/logout", data={"csrf_token": token_of(ann.page("/login")[1])})
    _, page = ann.page("/login")
    planted = token_of(page)  # what an attacker who fixed this session would know
    answer = ann.client.post("/login", data={"email": email, "password": PASSWORD,
                                             "csrf_token": planted})
    assert answer.status_code == 302
    stale = ann.client.post("/account", data={"action": "name", "display_name": "Eve",
                                              "csrf_token": planted})
    assert stale.status_code == 403
    fresh = ann.post("/account", {"action": "name", "display_name": "Annie"}, "/account")
    assert fresh.status_code == 302


def test_a_line_break_in_next_signs_in_and_goes_home(frontend):
    bob = browser(frontend)
    email = bob.register("Bob")
    bob.client.post("/logout", data={"csrf_token": token_of(bob.page("/login")[1])})
    answer = bob.post("/login?next=/auctions%0aSet-Cookie:%20x=1",
                      {"email": email, "password": PASSWORD})
    assert answer.status_code == 302
    assert answer.headers["Location"] in ("/", "http://localhost/")
    assert "x=1" not in answer.headers.get("Set-Cookie", "")


def test_the_installation_keeps_its_own_random_secret(tmp_path, user_api):
    path = tmp_path / "keys" / "frontend_secret"
    first = FrontendSettings(api_url=user_api, secret_key_file=path).session_secret()
    assert len(first) >= 32 and first != DEV_SECRET_KEY
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert FrontendSettings(api_url=user_api, secret_key_file=path).session_secret() == first
    other = FrontendSettings(api_url=user_api, secret_key_file=tmp_path / "other").session_secret()
    assert other != first, "each installation its own"


@pytest.mark.parametrize("placeholder", [DEV_SECRET_KEY, "<a long random string>", "change-me",
                                         "CHANGEME-please"])
def test_a_placeholder_secret_is_refused_at_start_up(monkeypatch, placeholder):
    from frontend.settings import load

    monkeypatch.setenv("API_URL", "http://gateway:8080")
    monkeypatch.setenv("SECRET_KEY", placeholder)
    with pytest.raises(SystemExit, match="SECRET_KEY"):
        load()


def test_without_any_secret_the_frontend_does_not_start(user_api):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_frontend(FrontendSettings(api_url=user_api))


def test_forgot_password_from_the_sign_in_page_to_a_new_password(frontend, users):
    from tests.service.test_password_reset import reset_events

    dot = browser(frontend)
    email = dot.register("Dot")
    dot.client.post("/logout", data={"csrf_token": token_of(dot.page("/login")[1])})
    _, page = dot.page("/login")
    assert 'href="/forgot-password"' in page and "Forgot password?" in page
    sent = dot.post("/forgot-password", {"email": email}, "/forgot-password")
    assert sent.status_code == 200 and "a link to choose a new password is on its way" in \
        sent.get_data(as_text=True)
    token = reset_events(users, email)[-1]["data"]["token"]
    status, page = dot.page(f"/reset-password?token={token}")
    assert status == 200 and 'name="new_password"' in page
    weak = dot.post("/reset-password", {"token": token, "new_password": "password1"},
                    f"/reset-password?token={token}")
    assert weak.status_code == 422
    answer = dot.post("/reset-password", {"token": token, "new_password": "violet meadow 77"},
                      f"/reset-password?token={token}")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    signed_in = dot.post("/login", {"email": email, "password": "violet meadow 77"})
    assert signed_in.status_code == 302
    spent = dot.post("/reset-password", {"token": token, "new_password": "other meadow 88"},
                     f"/reset-password?token={token}")
    assert spent.status_code == 400 and "not valid" in spent.get_data(as_text=True)
