"""Contract: each service's OpenAPI document, fuzzed with schemathesis. Whatever the input
(valid, malformed, or hostile), no answer is a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def signed_in(account):
    return account("fuzzer").headers


def _fuzz(app, headers) -> int:
    """Every operation of the app's document, with generated cases; returns how many."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @SETTINGS
        def check(case):
            _no_server_error(case, headers)

        check()
    return operations


def _no_server_error(case, headers, base_url: str | None = None) -> None:
    response = case.call(headers=headers, **({"base_url": base_url} if base_url else {}))
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body}: {response.text}")
    content_type = response.headers.get("content-type") or [""]
    if response.status_code >= 400 and content_type[0].startswith("application/json"):
        assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("service", ["users", "catalog", "bidding", "notifications"])
def test_no_input_makes_a_service_answer_5xx(service, request, signed_in):
    app = request.getfixturevalue(service)[0]
    assert _fuzz(app, signed_in) > 0
