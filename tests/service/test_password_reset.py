"""Password reset by email (issue 12): the same answer for any email, a signed single-use link
that expires, the rules of a new password, every session signed out, the mail sent."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy import text

from tests.service.test_users import (
    PASSWORD,
    build_user_app,
    error_code,
    login,
    me,
    refresh,
    register,
    unique_email,
)
from tests.support.outbox import events_about

NEW_PASSWORD = "violet meadow 77"


@pytest.fixture(scope="module")
def client(users):
    return users[0].test_client()


def ask(client, email: str):
    return client.post("/api/auth/password-reset", json={"email": email})


def confirm(client, token: str, new_password: str = NEW_PASSWORD):
    return client.post("/api/auth/password-reset/confirm",
                       json={"token": token, "new_password": new_password})


def reset_events(users, email: str) -> list[dict]:
    return events_about(users[1].db, "email", email, "user.password_reset_requested")


def test_asking_answers_the_same_whether_the_email_has_an_account_or_not(client, users):
    email = unique_email("ann")
    register(client, email=email)
    known, unknown = ask(client, email.upper()), ask(client, unique_email("nobody"))
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    [event] = reset_events(users, email)
    assert set(event["data"]) == {"user_id", "email", "display_name", "token", "expires_at"}


def test_the_link_sets_a_new_password_once_and_signs_out_every_session(client, users):
    email = unique_email("bea")
    register(client, email=email)
    session = login(client, email).get_json()
    ask(client, email)
    token = reset_events(users, email)[-1]["data"]["token"]
    answer = confirm(client, token)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["email"] == email
    assert login(client, email).status_code == 401, "the old password is gone"
    assert login(client, email, NEW_PASSWORD).status_code == 200
    assert refresh(client, session["refresh_token"]).status_code == 401, "signed out"
    again = confirm(client, token, "another meadow 88")
    assert (again.status_code, error_code(again)) == (400, "invalid_reset_token")


def test_a_new_password_follows_the_usual_rules(client, users):
    email = unique_email("cy")
    register(client, email=email)
    ask(client, email)
    token = reset_events(users, email)[-1]["data"]["token"]
    weak = confirm(client, token, "password1")
    assert (weak.status_code, error_code(weak)) == (422, "weak_password")
    assert weak.get_json()["error"]["details"][0]["field"] == "new_password"
    assert confirm(client, token).status_code == 200, "a refused try does not spend the link"


def test_an_expired_or_forged_link_is_refused(client, users, keypair):
    from user_service.password_reset import RESET_AUDIENCE

    email = unique_email("dee")
    user_id = register(client, email=email).get_json()["id"]
    access = login(client, email).get_json()["access_token"]
    ask(client, email)
    issued = jwt.decode(reset_events(users, email)[-1]["data"]["token"],
                        options={"verify_signature": False})
    header = jwt.get_unverified_header(reset_events(users, email)[-1]["data"]["token"])
    private = keypair[0].read_text()
    expired = jwt.encode(issued | {"exp": int(time.time()) - 5}, private, algorithm="RS256",
                         headers=header)
    other_key = jwt.encode(issued, _other_private_key(), algorithm="RS256", headers=header)
    wrong_audience = jwt.encode(issued | {"aud": "auction-platform"}, private,
                                algorithm="RS256", headers=header)
    for token in (expired, other_key, wrong_audience, access, "x.y.z", "nonsense"):
        answer = confirm(client, token)
        assert (answer.status_code, error_code(answer)) == (400, "invalid_reset_token"), token
    reset_token = reset_events(users, email)[-1]["data"]["token"]
    assert me(client, reset_token).status_code == 401, "a reset link is no access token"
    assert issued["sub"] == user_id and issued["aud"] == RESET_AUDIENCE


def _other_private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_changing_the_password_otherwise_spends_the_link(client, users):
    email = unique_email("eli")
    register(client, email=email)
    tokens = login(client, email).get_json()
    ask(client, email)
    token = reset_events(users, email)[-1]["data"]["token"]
    changed = client.patch("/api/users/me", json={
        "new_password": "another secret 55", "current_password": PASSWORD},
        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert changed.status_code == 200
    assert error_code(confirm(client, token)) == "invalid_reset_token"


def test_asking_is_limited_per_account(users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_password_resets="2 per hour")
    limited = app.test_client()
    email = unique_email("fay")
    for _ in range(2):
        assert ask(limited, email).status_code == 202
    answer = ask(limited, email)
    assert (answer.status_code, error_code(answer)) == (429, "rate_limited")
    assert ask(limited, unique_email("gus")).status_code == 202


def test_the_link_is_mailed_to_the_account(client, users, notifications):
    from notification_service.password_reset import password_reset_consumer

    email = unique_email("hal")
    register(client, email=email)
    ask(client, email)
    [event] = reset_events(users, email)
    consumer = password_reset_consumer(notifications[1].db, "http://shop.example")
    consumer(event)
    consumer(event)  # redelivered: one email
    with notifications[1].db.engine.connect() as conn:
        bodies = conn.execute(text(
            "SELECT d.text_body FROM notifications.email_deliveries d "
            "JOIN notifications.contacts c USING (user_id) WHERE c.email = :e"),
            {"e": email}).scalars().all()
    assert len(bodies) == 1
    assert "http://shop.example/reset-password?token=" in bodies[0]
    assert event["data"]["token"] in bodies[0]
