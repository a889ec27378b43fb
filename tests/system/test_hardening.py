"""The probe's cases (issue 12), black-box through the gateway of the distributed shape: real
nginx, gunicorn, RabbitMQ carrying the suspension and the reset link, the SMTP sink."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import uuid

import pytest
import requests

from tests.support.api import Api
from tests.support.waiting import wait_for
from tools import provision
from tools.services import ROOT

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return Api(stack.url)


def test_bad_input_answers_4xx_through_the_gateway(api):
    ann = api.register("ann")
    deep = "[" * 1000 + "]" * 1000
    for path in ("/api/auth/login", "/api/auth/register", "/api/bids", "/api/auctions"):
        answer = api.post(path, data=deep, headers={**ann.headers,
                                                    "Content-Type": "application/json"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_json"), path
    forged = base64.urlsafe_b64encode(json.dumps(
        {"s": "newly_listed", "k": "2024-01-01T00:00:00+00:00", "i": 7}).encode()).decode()
    answer = api.get("/api/auctions", params={"cursor": forged})
    assert answer.status_code == 422
    auction = ann.create_auction(title="Brass lamp")
    api.wait_until_biddable(auction["id"])
    bob = api.register("bob")
    for amount in ("1100", 1150.0, True):
        answer = api.post("/api/bids", json={"auction_id": auction["id"], "amount": amount},
                          headers=bob.headers)
        assert answer.status_code == 422, amount
    answer = api.post("/api/auctions", headers=ann.headers, json={
        "title": "\u200b\u200b\u200b\u200b", "category": "home", "currency": "EUR",
        "starting_price": 1000, "duration_seconds": 3600})
    assert answer.status_code == 422


def test_the_leader_is_public_only_by_masked_name(api):
    seller, ann, bob = api.register("seller"), api.register("carol"), api.register("dave")
    auction = seller.create_auction()
    api.wait_until_biddable(auction["id"])
    assert ann.bid(auction["id"], 2000).status_code == 201
    public = api.live_state(auction["id"]).json()
    assert ann.id not in json.dumps(public) and public["leader_name"] == "c***l"
    assert ann.id not in api.get(f"/api/auctions/{auction['id']}").text
    assert api.get(f"/api/bids/auctions/{auction['id']}",
                   headers=bob.headers).json()["you_lead"] is False
    assert api.get(f"/api/bids/auctions/{auction['id']}",
                   headers=ann.headers).json()["you_lead"] is True


def test_exposure_metrics_mailbox_and_headers(api, stack):
    for path in ("/metrics", "/api/auctions/metrics", "/api/auth/metrics", "/api/bids/metrics"):
        assert api.get(path).status_code == 404, path
    listing = api.get("/api/auctions")
    assert listing.headers["X-Content-Type-Options"] == "nosniff"
    ann = api.register("erin")
    private = api.get("/api/users/me", headers=ann.headers)
    assert private.headers["Cache-Control"] == "no-store"
    assert private.headers["X-Content-Type-Options"] == "nosniff"
    assert api.get("/api/mailbox").status_code == 200, "this machine reads the mail"


def make_admin(stack, email: str, password: str) -> None:
    urls = provision.service_urls(stack.admin_database_url, stack.database)
    subprocess.run([sys.executable, "-m", "user_service", "create-admin", "--email", email,
                    "--password", password], cwd=ROOT, check=True, capture_output=True,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                        "DATABASE_URL": urls["user_service"],
                        "JWT_PRIVATE_KEY_FILE": str(stack.state_dir / "keys" / "jwt_private.pem"),
                        "JWT_PUBLIC_KEY_FILE": str(stack.state_dir / "keys" / "jwt_public.pem"),
                        "EVENT_BUS": "rabbitmq",
                        "AMQP_URL": provision.amqp_url(stack.vhost)})


def test_a_suspension_reaches_every_service_within_seconds(api, stack):
    email, password = f"root.{uuid.uuid4().hex[:6]}@example.com", "correct horse 42"
    make_admin(stack, email, password)
    root = api.post("/api/auth/login", json={"email": email, "password": password}).json()
    admin = {"Authorization": f"Bearer {root['access_token']}"}
    mallory = api.register("mallory")
    paths = ["/api/users/me", "/api/auctions/watching", "/api/notifications", "/api/bids/mine"]
    assert all(api.get(p, headers=mallory.headers).status_code == 200 for p in paths)
    assert api.post(f"/api/users/{mallory.id}/suspend", headers=admin).status_code == 200
    wait_for(lambda: all(api.get(p, headers=mallory.headers).status_code == 403 for p in paths),
             timeout=15, message="every service to refuse the suspended account")


def test_a_forgotten_password_is_reset_by_the_emailed_link(api):
    fay = api.register("fay")
    assert api.post("/api/auth/password-reset", json={"email": fay.email}).status_code == 202
    mail = wait_for(lambda: [m for m in api.mailbox() if fay.email in m["to"]
                             and "new password" in m["subject"]],
                    timeout=20, message="the reset link by email")
    token = re.search(r"reset-password\?token=([\w.\-]+)", mail[0]["text"]).group(1)
    answer = api.post("/api/auth/password-reset/confirm",
                      json={"token": token, "new_password": "violet meadow 77"})
    assert answer.status_code == 200, answer.text
    assert api.post("/api/auth/login", json={"email": fay.email,
                                             "password": "violet meadow 77"}).status_code == 200
    assert api.post("/api/auth/refresh", json={
        "refresh_token": fay.tokens["refresh_token"]}).status_code == 401
    page = requests.get(f"{api.base_url}/reset-password", params={"token": token}, timeout=10)
    assert page.status_code == 200 and "Choose a new password" in page.text


@pytest.mark.parametrize("prefix", ["/api/auth", "/api/auctions", "/api/bids",
                                    "/api/notifications"])
def test_no_input_through_the_gateway_answers_5xx(api, stack, prefix):
    """Each service's document fuzzed through nginx (schemathesis): no 5xx, the error body on
    every JSON refusal. (The documents declare no links, so the cases are not stateful.)"""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    from tests.service.test_openapi_fuzz import _no_server_error

    headers = api.register("fuzzer").headers
    schema = schemathesis.openapi.from_url(f"{stack.url}{prefix}/openapi.json")
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            _no_server_error(case, headers, base_url=stack.url)

        check()
    assert operations > 0
