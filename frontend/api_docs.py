"""Swagger UI at ``/api/docs``, over the four services' OpenAPI documents.

The frontend serves it because it already serves the browser's files: Swagger UI's build comes
from npm at install time like every vendored library (``frontend/vendor.py``; the version is
pinned in ``package.json`` and ``package-lock.json``). Each document stays where its service
serves it, under the service's own public prefix (``auction_common/health.py``), and the page
only points the browser at them, so the same page works in every way of running: the gateway
(``make up``, compose, Kubernetes) sends ``/api/docs`` to the frontend, and so does the
embedded mode's router, where no service owns that prefix.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

bp = Blueprint("api_docs", __name__)

#: (name shown in the document switcher, URL of the service's OpenAPI document).
API_DOCUMENTS: tuple[tuple[str, str], ...] = (
    ("Users and sign-in (user_service)", "/api/auth/openapi.json"),
    ("Catalog (auction_service)", "/api/auctions/openapi.json"),
    ("Bidding (bidding_service)", "/api/bids/openapi.json"),
    ("Notifications (notification_service)", "/api/notifications/openapi.json"),
)


def docs_content_security_policy() -> str:
    """The pages' policy, loosened for Swagger UI only as far as it needs: it sets styles on
    elements it builds and shows icons as ``data:`` images. Scripts stay this origin's."""
    host = request.host
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        f"connect-src 'self' ws://{host} wss://{host}",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ))


@bp.get("/api/docs")
def swagger_ui():
    """The page: a link to each document, and Swagger UI over them."""
    documents = [{"name": name, "url": url} for name, url in API_DOCUMENTS]
    response = Response(render_template("api_docs.html", documents=documents))
    response.headers["Content-Security-Policy"] = docs_content_security_policy()
    return response


@bp.get("/api/docs/swagger-init.js")
def swagger_init():
    """Starts Swagger UI with the documents the page lists (a file, not an inline script:
    the policy allows no inline script)."""
    return Response(render_template("api_docs.js"), mimetype="text/javascript")
