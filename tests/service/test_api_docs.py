"""Swagger UI at /api/docs: served by the frontend over the four services' OpenAPI documents,
each of which its own service answers at the address the page gives (routed by path prefix,
as the gateway and the embedded mode's router do)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pytest
from werkzeug.test import Client

from frontend.api_docs import API_DOCUMENTS
from frontend.app import create_app
from frontend.settings import FrontendSettings
from frontend.vendor import BROWSER_BUILDS
from tools.router import PrefixRouter
from tools.services import SERVICES


@pytest.fixture(scope="module")
def platform(users, catalog, bidding, notifications):
    """The four services and the frontend behind one router, as in the embedded mode."""
    apps = {"user_service": users[0], "auction_service": catalog[0],
            "bidding_service": bidding[0], "notification_service": notifications[0]}
    routes = {prefix: apps[spec.package] for spec in SERVICES for prefix in spec.prefixes}
    frontend = create_app(FrontendSettings(api_url="http://127.0.0.1:9",
                                           secret_key="test-secret"))
    return Client(PrefixRouter(routes, default=frontend))


def test_the_page_lists_the_four_services_documents_and_loads_swagger_ui(platform):
    page = platform.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    links = re.findall(r'<a class="api-document" href="([^"]+)"', html)
    assert links == [url for _, url in API_DOCUMENTS]
    assert {url.split("/")[2] for url in links} == {"auth", "auctions", "bids", "notifications"}
    swagger_files = {PurePosixPath(path).name for path in BROWSER_BUILDS["swagger-ui-dist"]}
    assert swagger_files == set(re.findall(r"/static/vendor/(swagger-ui[\w.-]*)", html))
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    script = platform.get("/api/docs/swagger-init.js")
    assert (script.status_code, script.mimetype) == (200, "text/javascript")
    assert "SwaggerUIBundle" in script.get_data(as_text=True)


@pytest.mark.parametrize(("name", "url"), API_DOCUMENTS)
def test_each_listed_document_is_its_service_s_openapi_document(platform, name, url):
    answer = platform.get(url)
    assert answer.status_code == 200, url
    document = answer.get_json()
    assert document["openapi"].startswith("3.")
    assert document["paths"], name
