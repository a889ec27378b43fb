"""Fixtures of the frontend's tests: an app whose API address answers nothing.

These tests never fake the API: what needs the real services is covered by the system tests.
"""

from __future__ import annotations

import re

import pytest

from frontend.app import create_app
from frontend.settings import FrontendSettings

#: Nothing listens on the discard port: every API call fails at once (connection refused).
UNREACHABLE_API = "http://127.0.0.1:9"


@pytest.fixture
def settings() -> FrontendSettings:
    """Settings for a test app (no environment needed)."""
    return FrontendSettings(api_url=UNREACHABLE_API, secret_key="test-secret",
                            api_timeout_seconds=2)


@pytest.fixture
def app(settings):
    """The frontend app, built with the test settings."""
    app = create_app(settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    """A browser without JavaScript."""
    return app.test_client()


class Browser:
    """Helpers for what a browser does: read the form's CSRF token, post forms."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        """The session's CSRF token, as the page at ``path`` renders it."""
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post_form(self, path: str, data: dict, with_token: bool = True, **kwargs):
        """Post a form as the page would (with the session's CSRF token unless told not to)."""
        if with_token:
            data = {**data, "csrf_token": self.csrf_token()}
        return self.client.post(path, data=data, **kwargs)


@pytest.fixture
def browser(client) -> Browser:
    """A browser with helpers for forms."""
    return Browser(client)
