"""Builds the frontend: ``create_app`` wires settings, the API's HTTP session, pages and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests
from flask import Flask, g, jsonify, render_template
from werkzeug.exceptions import HTTPException

from auction_common.health import health_blueprint, instrument
from auction_common.money import format_money
from auction_common.problems import error_body

from . import account, api_docs, routes, selling
from .api_client import ApiErrorAnswer
from .auth import (
    REMEMBER_FOR,
    RefreshCoordinator,
    current_user,
    init_auth,
    login_redirect,
    wants_json,
)
from .security import init_security
from .settings import FrontendSettings, load
from .times import iso_utc, time_left, time_tag, utcnow, when

FRONTEND_DIR = Path(__file__).parent
TOO_LARGE = ("That was too much to send at once: a photo may be at most 10 MB, and an upload "
             "at most 12 MB. Add large photos one at a time.")


@dataclass
class FrontendParts:
    """What the views share: settings, one pooled HTTP session to the API, refresh coordination."""

    settings: FrontendSettings
    http: requests.Session = field(default_factory=requests.Session)
    refreshes: RefreshCoordinator = field(default_factory=RefreshCoordinator)


class FrontendFlask(Flask):
    """Flask, with the page's own scripts revalidated at every use instead of cached for a
    while like the other static files."""

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        # The page's script is ES modules at fixed addresses (no build step to put a hash in
        # them): a module kept from before a deploy next to a newer one would break the imports
        # between them, and with them the whole script. The ETag keeps each check cheap.
        if filename and filename.endswith(".js") and not filename.startswith("vendor/"):
            return None
        return super().get_send_file_max_age(filename)


def create_app(settings: FrontendSettings | None = None) -> Flask:
    """The frontend web app; nothing is contacted until a page asks the API."""
    settings = settings or load()
    app = FrontendFlask(
        "frontend",
        template_folder=str(FRONTEND_DIR / "templates"),
        static_folder=str(FRONTEND_DIR / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.session_secret(),
        SESSION_COOKIE_NAME="session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=REMEMBER_FOR,
        MAX_CONTENT_LENGTH=256 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
    )
    app.extensions["frontend"] = FrontendParts(settings=settings)

    init_auth(app)
    init_security(app)
    _register_template_helpers(app)
    _register_error_pages(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(selling.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(api_docs.bp)
    app.register_blueprint(health_blueprint("frontend", {}))
    instrument(app, "frontend")
    return app


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["time_left"] = time_left
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["time_tag"] = time_tag

    @app.context_processor
    def _page_context():
        return {"current_user": current_user(), "server_now": iso_utc(utcnow())}


def _register_error_pages(app: Flask) -> None:
    """One place where errors become pages (or JSON for the page's script)."""

    def error_page(status: int, title: str, message: str, code: str | None = None):
        if wants_json():
            body = error_body(code or title.lower().replace(" ", "_"), message)
            return jsonify({"ok": False, **body, "message": message}), status
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(ApiErrorAnswer)
    def _api_error(exc: ApiErrorAnswer):
        if exc.status == 401:
            if exc.code != "login_required":
                app.logger.info("API refused the tokens (%s); signing out", exc.code)
            if g.tokens.signed_in:
                g.tokens.clear()
            return login_redirect()
        if exc.status == 404:
            return error_page(404, "Not found", "There is nothing here, or no longer.")
        if exc.status == 403:
            return error_page(403, "Forbidden", exc.message)
        if exc.status >= 500:
            return error_page(503, "Service unavailable",
                              "The auction service is unavailable right now. Try again shortly.")
        return error_page(exc.status, "Request refused", exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 413:
            return error_page(413, "Too large", TOO_LARGE, "too_large")
        return error_page(exc.code or 500, exc.name, exc.description or exc.name,
                          getattr(exc, "error_code", None))
