"""user_service on real PostgreSQL: accounts, credentials, access and refresh tokens."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jwt
import pytest
from sqlalchemy import text

from auction_common.events import EventSchemas
from auction_common.keys import generate_private_key_pem, public_key_pem
from tests.service.conftest import Account
from tests.support.outbox import events_about
from tests.support.waiting import wait_for
from tools.services import ROOT
from tools.stack import free_port
from user_service.app import EVENT_SCHEMAS, create_app
from user_service.commands import create_admin

PASSWORD = "correct horse 42"


@pytest.fixture(scope="module")
def client(users):
    return users[0].test_client()


@pytest.fixture(scope="module")
def db(users):
    return users[1].db


@pytest.fixture(scope="module")
def private_key(keypair) -> str:
    """The PEM key this run's user_service signs access tokens with."""
    return keypair[0].read_text()


@pytest.fixture(scope="module")
def admin(settings_for, client):
    """An administrator, made with ``create-admin`` and signed in."""
    email = unique_email("admin")
    create_admin(settings_for("user_service"), ["--email", email, "--password", PASSWORD])
    return sign_in(client, email, PASSWORD)


def sign_in(client, email: str, password: str = PASSWORD) -> SimpleNamespace:
    """Log in an existing account: ``.id``, ``.email``, ``.tokens``, ``.headers``."""
    answer = login(client, email, password)
    assert answer.status_code == 200, answer.get_json()
    tokens = answer.get_json()
    return SimpleNamespace(id=tokens["user"]["id"], email=email, tokens=tokens,
                           headers={"Authorization": f"Bearer {tokens['access_token']}"})


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A Redis server of this module's own (skipped where ``redis-server`` is missing)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _answers(port), timeout=10, message="redis-server to listen")
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def build_user_app(settings_for, users, **settings):
    """Another user_service app on the same database with other settings (its own limiter
    with its own counters)."""
    app = create_app(settings_for("user_service", **settings), users[1])
    app.testing = True
    return app


def unique_email(name: str = "user") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def register(client, email: str | None = None, password: str = PASSWORD,
             display_name: str = "Ann"):
    """POST /api/auth/register; returns the raw response."""
    return client.post("/api/auth/register", json={
        "email": email or unique_email(), "password": password, "display_name": display_name})


def login(client, email: str, password: str = PASSWORD):
    """POST /api/auth/login; returns the raw response."""
    return client.post("/api/auth/login", json={"email": email, "password": password})


def refresh(client, refresh_token: str):
    return client.post("/api/auth/refresh", json={"refresh_token": refresh_token})


def me(client, access_token: str):
    """GET /api/users/me with ``access_token``; returns the raw response."""
    return client.get("/api/users/me", headers={"Authorization": f"Bearer {access_token}"})


def patch_me(client, account, **fields):
    """PATCH /api/users/me as ``account``; returns the raw response."""
    return client.patch("/api/users/me", json=fields, headers=account.headers)


def stored_hash(db, user_id: str) -> str:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT password_hash FROM users.users WHERE id = :id"),
                            {"id": user_id}).scalar_one()


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


def claims_of(access_token: str) -> dict:
    """The claims of a real access token (unverified: we only copy their shape)."""
    return jwt.decode(access_token, options={"verify_signature": False})


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- registration -------------------------------------------------------------------------


def test_registering_creates_an_account_with_a_lower_case_email(client):
    email = unique_email("Ann.Mixed").replace("example.com", "Example.COM")
    answer = register(client, email=email, display_name="Ann")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["email"] == email.lower()
    assert body["display_name"] == "Ann"
    assert uuid.UUID(body["id"])
    assert "password" not in json.dumps(body)


def test_an_address_whose_domain_is_outside_ascii_is_kept_in_its_ascii_form(client, db):
    """``ann@exämple.com`` (an internationalized domain) is the account of
    ``ann@xn--exmple-cua.com``, whichever way it is typed; its ``user.registered`` carries the
    ASCII form, which every mail server takes. (It was a 500: the event's schema wants an
    ASCII address.)"""
    name = f"ann.{uuid.uuid4().hex[:8]}"
    answer = register(client, email=f"{name}@Exämple.com")
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["email"] == f"{name}@xn--exmple-cua.com"
    for typed in (f"{name}@exämple.com", f"{name.upper()}@XN--EXMPLE-CUA.COM"):
        assert login(client, typed).status_code == 200, typed
    assert register(client, email=f"{name}@xn--exmple-cua.com").status_code == 409
    [event] = events_about(db, "user_id", answer.get_json()["id"], "user.registered")
    assert event["data"]["email"] == f"{name}@xn--exmple-cua.com"


def test_an_address_outside_ascii_before_the_at_is_refused_and_creates_nothing(client):
    email = f"josé.{uuid.uuid4().hex[:8]}@example.com"
    answer = register(client, email=email)
    assert answer.status_code == 422, answer.get_json()
    [detail] = answer.get_json()["error"]["details"]
    assert detail["field"] == "email"
    assert "before the @" in detail["message"]
    assert login(client, email).status_code == 401


def test_an_email_is_taken_whatever_its_case(client):
    email = unique_email("bob")
    assert register(client, email=email).status_code == 201
    again = register(client, email=email.upper())
    assert again.status_code == 409
    assert error_code(again) == "email_taken"


def test_registering_announces_user_registered_in_the_outbox(client, db):
    user = register(client, display_name="Cleo").get_json()
    [event] = events_about(db, "user_id", user["id"], "user.registered")
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"] == {"user_id": user["id"], "email": user["email"],
                             "display_name": "Cleo", "role": "user", "version": 1}


@pytest.mark.parametrize("fields, code, field", [
    ({"password": "short"}, "weak_password", "password"),
    ({"password": "1234567"}, "weak_password", "password"),
    ({"password": "password"}, "weak_password", "password"),
    ({"password": "iloveyou"}, "weak_password", "password"),
    ({"password": "sunshine2024!"}, "weak_password", "password"),
    ({"password": "aaaaaaaaaaaaaaaa"}, "weak_password", "password"),
    ({"password": "12345678901"}, "weak_password", "password"),
    ({"display_name": "Ann\nAdmin"}, "validation_error", "display_name"),
    ({"display_name": "Ann\x00"}, "validation_error", "display_name"),
    ({"email": "ann\x00@example.com"}, "validation_error", "email"),
    ({"email": "not-an-email"}, "validation_error", "email"),
    ({"email": "ann@"}, "validation_error", "email"),
    ({"email": ["ann@example.com"]}, "validation_error", "email"),
    ({"email": "a" * 250 + "@example.com"}, "validation_error", "email"),
    ({"email": None}, "validation_error", "email"),
    ({"email": "josé@example.com"}, "validation_error", "email"),
    ({"password": 12345678}, "validation_error", "password"),
    ({"password": "x" * 257}, "validation_error", "password"),
    ({"display_name": ""}, "validation_error", "display_name"),
    ({"display_name": "   "}, "validation_error", "display_name"),
    ({"display_name": "x" * 61}, "validation_error", "display_name"),
    ({"display_name": 42}, "validation_error", "display_name"),
])
def test_a_bad_registration_is_refused_naming_the_field(client, fields, code, field):
    body = {"email": unique_email(), "password": PASSWORD, "display_name": "Ann", **fields}
    answer = client.post("/api/auth/register", json=body)
    assert answer.status_code == 422, answer.get_json()
    assert error_code(answer) == code
    assert field in {detail["field"] for detail in answer.get_json()["error"]["details"]}


@pytest.mark.parametrize("missing", ["email", "password", "display_name"])
def test_a_registration_missing_a_field_is_refused_naming_it(client, missing):
    body = {"email": unique_email(), "password": PASSWORD, "display_name": "Ann"}
    del body[missing]
    answer = client.post("/api/auth/register", json=body)
    assert answer.status_code == 422
    assert error_code(answer) == "validation_error"
    assert [detail["field"] for detail in answer.get_json()["error"]["details"]] == [missing]


def test_a_body_that_is_not_a_json_object_is_refused(client):
    answer = client.post("/api/auth/register", json=["ann@example.com", PASSWORD])
    assert answer.status_code == 422
    assert error_code(answer) == "validation_error"


def test_broken_json_not_json_and_oversized_bodies_get_the_error_body(client):
    broken = client.post("/api/auth/register", data='{"email": ', content_type="application/json")
    assert broken.status_code == 400
    assert error_code(broken) == "invalid_json"
    form = client.post("/api/auth/register", data={"email": "ann@example.com"})
    assert form.status_code == 415
    assert error_code(form) == "unsupported_media_type"
    huge = client.post("/api/auth/register", json={
        "email": unique_email(), "password": PASSWORD, "display_name": "x" * 100_000})
    assert huge.status_code == 413
    assert error_code(huge) == "payload_too_large"


# --- login --------------------------------------------------------------------------------


def test_logging_in_gives_a_bearer_token_pair_and_the_user(client):
    email = unique_email("dan")
    user = register(client, email=email, display_name="Dan").get_json()
    answer = login(client, email.upper())
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["id"] == user["id"]
    assert body["user"]["email"] == email
    assert claims_of(body["access_token"])["sub"] == user["id"]


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client):
    email = unique_email("eve")
    register(client, email=email)
    wrong_password = login(client, email, "not the password")
    unknown_email = login(client, unique_email("nobody"))
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert error_code(wrong_password) == error_code(unknown_email) == "invalid_credentials"
    assert wrong_password.get_json() == unknown_email.get_json()


# --- who am I, public profiles -------------------------------------------------------------


def test_the_signed_in_user_reads_their_own_account(client, account):
    fay = account("fay")
    answer = me(client, fay.tokens["access_token"])
    assert answer.status_code == 200
    assert answer.get_json()["id"] == fay.id
    assert answer.get_json()["email"] == fay.email
    anonymous = client.get("/api/users/me")
    assert anonymous.status_code == 401
    assert error_code(anonymous) == "unauthorized"


def test_a_public_profile_shows_the_name_but_never_the_email(client, account):
    gus = account("gus")
    answer = client.get(f"/api/users/{gus.id}")
    assert answer.status_code == 200
    profile = answer.get_json()
    assert profile["id"] == gus.id
    assert profile["display_name"] == "gus"
    assert "member_since" in profile
    assert "email" not in profile
    assert gus.email not in answer.get_data(as_text=True)


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_the_profile_of_an_unknown_user_is_404(client, user_id):
    answer = client.get(f"/api/users/{user_id}")
    assert answer.status_code == 404
    assert error_code(answer) == "user_not_found"


# --- refresh tokens -----------------------------------------------------------------------


def test_refreshing_rotates_the_pair_and_the_new_pair_works(client, account):
    hal = account("hal")
    answer = refresh(client, hal.tokens["refresh_token"])
    assert answer.status_code == 200
    rotated = answer.get_json()
    assert rotated["refresh_token"] != hal.tokens["refresh_token"]
    assert rotated["user"]["id"] == hal.id
    assert me(client, rotated["access_token"]).get_json()["id"] == hal.id
    assert refresh(client, rotated["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(client, account):
    ivy = account("ivy")
    stolen = ivy.tokens["refresh_token"]
    newer = refresh(client, stolen).get_json()["refresh_token"]
    reuse = refresh(client, stolen)
    assert reuse.status_code == 401
    assert error_code(reuse) == "invalid_refresh_token"
    after = refresh(client, newer)
    assert after.status_code == 401, "the newer token of the same family stops working too"
    assert error_code(after) == "invalid_refresh_token"


def test_a_revoked_family_leaves_the_users_other_sessions_alone(client, account):
    jon = account("jon")
    other_session = login(client, jon.email).get_json()["refresh_token"]
    stolen = jon.tokens["refresh_token"]
    refresh(client, stolen)
    refresh(client, stolen)
    assert refresh(client, other_session).status_code == 200


def test_logging_out_revokes_the_refresh_token(client, account):
    kim = account("kim")
    assert client.post("/api/auth/logout",
                       json={"refresh_token": kim.tokens["refresh_token"]}).status_code == 204
    answer = refresh(client, kim.tokens["refresh_token"])
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_refresh_token"


def test_an_unknown_refresh_token_is_refused(client):
    answer = refresh(client, "made-up-token")
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_refresh_token"


# --- access tokens ------------------------------------------------------------------------


def test_a_token_signed_with_another_key_is_invalid(client, account):
    lea = account("lea")
    forged = jwt.encode(claims_of(lea.tokens["access_token"]), generate_private_key_pem(),
                        algorithm="RS256")
    answer = me(client, forged)
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_token"


def test_an_expired_token_is_refused_as_expired(client, account, private_key):
    max_ = account("max")
    claims = claims_of(max_.tokens["access_token"])
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    claims.update(iat=an_hour_ago - timedelta(minutes=15), nbf=an_hour_ago - timedelta(minutes=15),
                  exp=an_hour_ago)
    answer = me(client, jwt.encode(claims, private_key, algorithm="RS256"))
    assert answer.status_code == 401
    assert error_code(answer) == "token_expired"


def test_the_run_key_signs_tokens_the_service_accepts(client, account, private_key):
    """The control for the forged tokens: the same claims, signed right, are accepted."""
    ned = account("ned")
    resigned = jwt.encode(claims_of(ned.tokens["access_token"]), private_key, algorithm="RS256")
    assert me(client, resigned).status_code == 200


def test_an_unsigned_token_is_refused(client, account):
    ole = account("ole")
    unsigned = (b64url({"alg": "none", "typ": "JWT"}) + "."
                + b64url(claims_of(ole.tokens["access_token"])) + ".")
    answer = me(client, unsigned)
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_token"


def test_a_tampered_token_is_refused(client, account):
    pam, quinn = account("pam"), account("quinn")
    header, _, signature = pam.tokens["access_token"].split(".")
    claims = claims_of(pam.tokens["access_token"]) | {"sub": quinn.id, "role": "admin"}
    answer = me(client, f"{header}.{b64url(claims)}.{signature}")
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_token"


def test_the_published_jwks_verifies_real_access_tokens(client, account):
    rae = account("rae")
    token = rae.tokens["access_token"]
    answer = client.get("/api/auth/.well-known/jwks.json")
    assert answer.status_code == 200
    keys = {key["kid"]: key for key in answer.get_json()["keys"]}
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid in keys, "the token names the key that verifies it"
    verified = jwt.decode(token, key=jwt.PyJWK(keys[kid]), algorithms=["RS256"],
                          audience="auction-platform", issuer="auction-platform")
    assert verified["sub"] == rae.id


def test_a_password_made_of_the_email_is_refused(client):
    email = unique_email("zed.quixote")
    answer = register(client, email=email, password=email.split("@")[0] + "1")
    assert answer.status_code == 422
    assert error_code(answer) == "weak_password"
    assert "your email address" in answer.get_json()["error"]["message"]


# --- claims and sessions ------------------------------------------------------------------


def test_an_access_token_carries_who_what_role_which_session_and_when(client, account):
    sam = account("sam")
    token = sam.tokens["access_token"]
    header = jwt.get_unverified_header(token)
    claims = claims_of(token)
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["sub"] == sam.id
    assert claims["role"] == "user"
    assert claims["iss"] == claims["aud"] == "auction-platform"
    assert uuid.UUID(claims["jti"]) and uuid.UUID(claims["sid"])
    assert claims["exp"] - claims["iat"] == sam.tokens["expires_in"] == 900
    again = login(client, sam.email).get_json()["access_token"]
    assert claims_of(again)["jti"] != claims["jti"]
    assert claims_of(again)["sid"] != claims["sid"], "each login is its own session"
    rotated = refresh(client, sam.tokens["refresh_token"]).get_json()["access_token"]
    assert claims_of(rotated)["sid"] == claims["sid"], "a refresh stays in its session"


def test_the_token_of_a_deleted_user_is_refused(client, account, db):
    tim = account("tim")
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM users.users WHERE id = :id"), {"id": tim.id})
    answer = me(client, tim.tokens["access_token"])
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_token"
    assert patch_me(client, tim, display_name="Ghost").status_code == 401
    gone = refresh(client, tim.tokens["refresh_token"])
    assert gone.status_code == 401
    assert error_code(gone) == "invalid_refresh_token"


def test_logging_in_rehashes_a_password_hashed_with_older_parameters(users, settings_for,
                                                                      db):
    cheap = build_user_app(settings_for, users, argon2_time_cost=1, argon2_memory_cost=1024,
                           argon2_parallelism=1).test_client()
    email = unique_email("uma")
    user = register(cheap, email=email).get_json()
    assert "m=1024,t=1,p=1" in stored_hash(db, user["id"])
    assert login(cheap, email).status_code == 200
    assert "m=1024,t=1,p=1" in stored_hash(db, user["id"]), "same parameters: left alone"
    stronger = build_user_app(settings_for, users, argon2_time_cost=2, argon2_memory_cost=2048,
                              argon2_parallelism=2).test_client()
    assert login(stronger, email).status_code == 200
    assert "m=2048,t=2,p=2" in stored_hash(db, user["id"])
    assert login(cheap, email).status_code == 200, "the renewed hash still verifies"
    assert login(stronger, email, "wrong password").status_code == 401


# --- changing one's own account -----------------------------------------------------------


def test_changing_the_display_name_announces_a_full_snapshot(client, account, db):
    val = account("val")
    answer = patch_me(client, val, display_name="  Valentina  ")
    assert answer.status_code == 200
    assert answer.get_json()["display_name"] == "Valentina"
    assert me(client, val.tokens["access_token"]).get_json()["display_name"] == "Valentina"
    assert client.get(f"/api/users/{val.id}").get_json()["display_name"] == "Valentina"
    [event] = events_about(db, "user_id", val.id, "user.updated")
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"] == {"user_id": val.id, "email": val.email,
                             "display_name": "Valentina", "role": "user", "status": "active",
                             "version": 2}
    assert patch_me(client, val, display_name="Valentina").status_code == 200
    assert len(events_about(db, "user_id", val.id, "user.updated")) == 1, "no change, no event"


def test_changing_the_password_signs_out_every_other_session(client, account, db):
    wes = account("wes")
    other_session = login(client, wes.email).get_json()
    rotated_other = refresh(client, other_session["refresh_token"]).get_json()
    answer = patch_me(client, wes, new_password="a brand new secret 7",
                      current_password=PASSWORD)
    assert answer.status_code == 200
    assert login(client, wes.email).status_code == 401
    assert login(client, wes.email, "a brand new secret 7").status_code == 200
    stopped = refresh(client, rotated_other["refresh_token"])
    assert stopped.status_code == 401, "the other session is signed out"
    assert error_code(stopped) == "invalid_refresh_token"
    assert refresh(client, wes.tokens["refresh_token"]).status_code == 200, "this one is not"
    assert events_about(db, "user_id", wes.id, "user.updated") == [], "nothing others keep changed"


@pytest.mark.parametrize("fields, status, code, field", [
    ({"new_password": "a brand new secret 7"}, 422, "validation_error", "current_password"),
    ({"new_password": "a brand new secret 7", "current_password": "not it"}, 403,
     "wrong_current_password", "current_password"),
    ({"new_password": "password1", "current_password": PASSWORD}, 422, "weak_password",
     "new_password"),
    ({"new_password": PASSWORD, "current_password": PASSWORD}, 422, "password_unchanged",
     "new_password"),
    ({}, 422, "validation_error", "body"),
    ({"email": "new@example.com"}, 422, "validation_error", "email"),
    ({"role": "admin"}, 422, "validation_error", "role"),
    ({"display_name": ""}, 422, "validation_error", "display_name"),
    ({"display_name": 7}, 422, "validation_error", "display_name"),
    ({"display_name": "x" * 61}, 422, "validation_error", "display_name"),
    ({"new_password": ["a", "b"], "current_password": PASSWORD}, 422, "validation_error",
     "new_password"),
])
def test_a_bad_account_change_is_refused_naming_the_field(client, account, fields, status,
                                                           code, field):
    xia = account("xia")
    answer = client.patch("/api/users/me", json=fields, headers=xia.headers)
    assert answer.status_code == status, answer.get_json()
    assert error_code(answer) == code
    assert field in {detail["field"] for detail in answer.get_json()["error"]["details"]}
    assert login(client, xia.email).status_code == 200, "the password did not change"


def test_changing_an_account_needs_a_valid_token(client, account):
    assert client.patch("/api/users/me", json={"display_name": "Nobody"}).status_code == 401
    yan = account("yan")
    forged = jwt.encode(claims_of(yan.tokens["access_token"]), generate_private_key_pem(),
                        algorithm="RS256")
    answer = client.patch("/api/users/me", json={"display_name": "Forged"},
                          headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_token"


# --- administrators -----------------------------------------------------------------------


def test_create_admin_makes_a_first_administrator_from_the_command_line(settings_for,
                                                                         client, tmp_path):
    settings = settings_for("user_service")
    email = unique_email("root")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url,
           "EVENT_BUS": "inprocess", "LOG_JSON": "false"}
    command = [sys.executable, "-m", "user_service", "create-admin", "--email", email,
               "--password", "root of all trust 9", "--display-name", "Root"]
    created = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    assert created.returncode == 0, created.stderr
    assert "Created administrator" in created.stdout
    answer = login(client, email, "root of all trust 9")
    assert answer.status_code == 200
    assert answer.get_json()["user"]["role"] == "admin"
    assert claims_of(answer.get_json()["access_token"])["role"] == "admin"
    again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert "is an administrator" in again.stdout
    weak = subprocess.run([*command[:5], unique_email(), "--password", "password"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert weak.returncode != 0
    assert "too easy to guess" in weak.stderr


def test_create_admin_promotes_an_existing_account_and_keeps_its_password(settings_for,
                                                                           client, account,
                                                                           db):
    zoe = account("zoe")
    create_admin(settings_for("user_service"), ["--email", zoe.email.upper()])
    answer = login(client, zoe.email)
    assert answer.get_json()["user"]["role"] == "admin"
    [event] = events_about(db, "user_id", zoe.id, "user.updated")
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"]["role"] == "admin"


def test_only_an_administrator_may_suspend(client, account, admin):
    amy, ben = account("amy"), account("ben")
    anonymous = client.post(f"/api/users/{ben.id}/suspend")
    assert anonymous.status_code == 401
    assert error_code(anonymous) == "unauthorized"
    for action in ("suspend", "unsuspend"):
        refused = client.post(f"/api/users/{ben.id}/{action}", headers=amy.headers)
        assert refused.status_code == 403
        assert error_code(refused) == "forbidden"
    # A token claiming the admin role, signed with another key, is no way around it.
    forged = jwt.encode(claims_of(amy.tokens["access_token"]) | {"role": "admin"},
                        generate_private_key_pem(), algorithm="RS256")
    answer = client.post(f"/api/users/{ben.id}/suspend",
                         headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    assert me(client, ben.tokens["access_token"]).status_code == 200


def test_a_suspended_user_cannot_log_in_refresh_or_act(client, account, admin, db):
    cal = account("cal")
    second_session = login(client, cal.email).get_json()
    answer = client.post(f"/api/users/{cal.id}/suspend", headers=admin.headers)
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "suspended"
    refused = login(client, cal.email)
    assert refused.status_code == 403
    assert error_code(refused) == "user_suspended"
    assert login(client, cal.email, "wrong password").status_code == 401, \
        "a wrong password says nothing about the suspension"
    for session in (cal.tokens, second_session):
        stopped = refresh(client, session["refresh_token"])
        assert stopped.status_code in (401, 403)
    mine = me(client, cal.tokens["access_token"])
    assert mine.status_code == 403
    assert error_code(mine) == "user_suspended"
    assert patch_me(client, cal, display_name="Still here").status_code == 403
    [event] = events_about(db, "user_id", cal.id, "user.updated")
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"] == {"user_id": cal.id, "email": cal.email, "display_name": "cal",
                             "role": "user", "status": "suspended", "version": 2}
    again = client.post(f"/api/users/{cal.id}/suspend", headers=admin.headers)
    assert again.status_code == 200
    assert len(events_about(db, "user_id", cal.id, "user.updated")) == 1, "no change, no event"


def test_unsuspending_lets_the_user_log_in_again_but_not_revive_old_sessions(client, account,
                                                                              admin, db):
    dee = account("dee")
    client.post(f"/api/users/{dee.id}/suspend", headers=admin.headers)
    answer = client.post(f"/api/users/{dee.id}/unsuspend", headers=admin.headers)
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "active"
    assert login(client, dee.email).status_code == 200
    assert refresh(client, dee.tokens["refresh_token"]).status_code == 401
    statuses = [e["data"]["status"] for e in events_about(db, "user_id", dee.id, "user.updated")]
    assert statuses == ["suspended", "active"]


@pytest.mark.parametrize("target", [str(uuid.uuid4()), "not-a-uuid", "me"])
def test_suspending_an_unknown_user_is_404(client, admin, target):
    answer = client.post(f"/api/users/{target}/suspend", headers=admin.headers)
    assert answer.status_code == 404
    assert error_code(answer) == "user_not_found"


def test_an_administrator_cannot_suspend_themselves(client, admin):
    answer = client.post(f"/api/users/{admin.id}/suspend", headers=admin.headers)
    assert answer.status_code == 409
    assert error_code(answer) == "cannot_suspend_self"
    assert me(client, admin.tokens["access_token"]).status_code == 200


def test_an_administrator_sees_the_email_and_status_on_a_profile(client, account, admin):
    eli = account("eli")
    seen_by_admin = client.get(f"/api/users/{eli.id}", headers=admin.headers).get_json()
    assert seen_by_admin["email"] == eli.email
    assert seen_by_admin["status"] == "active"
    seen_by_user = client.get(f"/api/users/{eli.id}", headers=eli.headers).get_json()
    assert "email" not in json.dumps(seen_by_user) or seen_by_user["email"] is None
    assert eli.email not in json.dumps(seen_by_user)
    expired_token = client.get(f"/api/users/{eli.id}",
                               headers={"Authorization": "Bearer not-a-token"})
    assert expired_token.status_code == 200, "a bad token on a public page: still public"


# --- key rotation -------------------------------------------------------------------------


def test_rotating_the_signing_key_signs_nobody_out(users, settings_for, keypair, client,
                                                   account, tmp_path):
    """The new key signs; the old public key stays configured for an access-token lifetime."""
    old_public = keypair[1]
    new_private = tmp_path / "new_private.pem"
    new_private.write_text(generate_private_key_pem())
    keys_dir = tmp_path / "public_keys"
    keys_dir.mkdir()
    (keys_dir / "old.pem").write_text(old_public.read_text())
    rotated = build_user_app(settings_for, users, jwt_private_key_file=new_private,
                             jwt_public_key_file=None, jwt_public_keys_dir=keys_dir)
    rotated_client = rotated.test_client()
    fay = account("fay")
    old_token = fay.tokens["access_token"]
    assert me(rotated_client, old_token).status_code == 200, "old tokens still verify"
    pair = refresh(rotated_client, fay.tokens["refresh_token"]).get_json()
    new_kid = jwt.get_unverified_header(pair["access_token"])["kid"]
    assert new_kid != jwt.get_unverified_header(old_token)["kid"]
    assert me(rotated_client, pair["access_token"]).status_code == 200
    published = rotated_client.get("/api/auth/.well-known/jwks.json").get_json()["keys"]
    assert {key["kid"] for key in published} == {
        new_kid, jwt.get_unverified_header(old_token)["kid"]}
    # Once the old key is dropped (after an access-token lifetime), its tokens stop working.
    (keys_dir / "old.pem").unlink()
    (keys_dir / "new.pem").write_text(public_key_pem(new_private.read_text()))
    finished = build_user_app(settings_for, users, jwt_private_key_file=new_private,
                              jwt_public_key_file=None, jwt_public_keys_dir=keys_dir)
    assert me(finished.test_client(), old_token).status_code == 401
    assert me(finished.test_client(), pair["access_token"]).status_code == 200


# --- rate limits --------------------------------------------------------------------------


def from_address(app, address: str):
    """A test client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def assert_rate_limited(answer):
    assert answer.status_code == 429, answer.get_json()
    assert error_code(answer) == "rate_limited"
    retry_after = int(answer.headers["Retry-After"])
    assert retry_after >= 1
    assert answer.get_json()["error"]["details"]["retry_after"] == retry_after
    return retry_after


def test_registering_is_limited_per_client_address(users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_per_ip="3/minute")
    office, elsewhere = from_address(app, "203.0.113.7"), from_address(app, "198.51.100.1")
    for _ in range(3):
        assert register(office).status_code == 201
    retry_after = assert_rate_limited(register(office))
    assert 1 <= retry_after <= 60
    assert register(elsewhere).status_code == 201, "another address is not affected"
    assert login(office, unique_email()).status_code == 401, "logging in counts on its own"


def test_failed_logins_are_limited_per_account_and_address_and_successes_do_not_count(
        users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_failed_logins="3 per 15 minutes")
    client = from_address(app, "203.0.113.8")
    gil, hal = unique_email("gil"), unique_email("hal")
    register(client, email=gil)
    register(client, email=hal)
    for _ in range(5):
        assert login(client, gil).status_code == 200, "successes are not counted"
    for _ in range(3):
        assert login(client, gil, "guess").status_code == 401
    assert_rate_limited(login(client, gil.upper(), "guess"))
    assert_rate_limited(login(client, gil)), "this address waits, whatever the case"
    assert login(client, hal).status_code == 200, "other accounts are not affected"


def test_strangers_guessing_a_password_never_lock_the_owner_out(users, settings_for):
    """The probe's lockout on demand: ten wrong passwords from other addresses used to close
    the account to its owner for fifteen minutes, renewable forever."""
    app = build_user_app(settings_for, users, rate_limit_failed_logins="3 per 15 minutes")
    owner = from_address(app, "198.51.100.40")
    email = unique_email("lee")
    register(owner, email=email)
    for attacker in ("192.0.2.41", "192.0.2.42"):
        for _ in range(3):
            assert login(from_address(app, attacker), email, "guess").status_code == 401
        assert_rate_limited(login(from_address(app, attacker), email, "guess"))
        assert_rate_limited(login(from_address(app, attacker), email)), \
            "the attacker's address is slowed down even with the right password"
    assert login(owner, email).status_code == 200, "the owner still gets in"


def test_one_address_guessing_many_accounts_is_slowed_down(users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_failed_logins="3 per 15 minutes",
                         rate_limit_failed_logins_per_ip="4 per 15 minutes")
    sprayer = from_address(app, "192.0.2.50")
    for _ in range(4):
        assert login(sprayer, unique_email(), "guess").status_code == 401
    assert_rate_limited(login(sprayer, unique_email(), "guess"))
    assert login(from_address(app, "192.0.2.51"), unique_email(), "guess").status_code == 401


def test_the_real_user_gets_back_in_once_the_window_has_slid(users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_failed_logins="2 per 2 seconds")
    client = from_address(app, "203.0.113.9")
    ivy = unique_email("ivy")
    register(client, email=ivy)
    for _ in range(2):
        login(client, ivy, "guess")
    retry_after = assert_rate_limited(login(client, ivy))
    assert retry_after <= 2
    wait_for(lambda: login(client, ivy).status_code == 200, timeout=5,
             message="the window to slide past the failures")


def test_guessing_the_current_password_is_limited_too(users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_failed_logins="2 per 15 minutes")
    client = from_address(app, "203.0.113.10")
    jay = Account(client, "jay")
    for _ in range(2):
        answer = patch_me(client, jay, new_password="another secret 55",
                          current_password="guess")
        assert answer.status_code == 403
    assert_rate_limited(patch_me(client, jay, new_password="another secret 55",
                                 current_password=PASSWORD))
    assert patch_me(client, jay, display_name="Jay").status_code == 429


def test_behind_trusted_proxies_the_forwarded_client_address_is_limited(users,
                                                                         settings_for):
    app = build_user_app(settings_for, users, rate_limit_per_ip="2/minute",
                         trusted_proxies="10.0.0.0/8, 127.0.0.1")
    gateway = from_address(app, "10.0.0.2")

    def register_from(chain: str):
        return gateway.post("/api/auth/register", headers={"X-Forwarded-For": chain}, json={
            "email": unique_email(), "password": PASSWORD, "display_name": "Kit"})

    # Browser 198.51.100.20 -> gateway -> frontend (127.0.0.1) -> gateway (10.0.0.2).
    for _ in range(2):
        assert register_from("198.51.100.20, 127.0.0.1").status_code == 201
    assert_rate_limited(register_from("198.51.100.20, 127.0.0.1"))
    assert register_from("198.51.100.21").status_code == 201
    # What a client writes itself in front of the real chain is not believed.
    assert_rate_limited(register_from("1.2.3.4, 198.51.100.20, 127.0.0.1"))


def test_without_trusted_proxies_a_forged_forwarded_header_changes_nothing(users,
                                                                            settings_for):
    app = build_user_app(settings_for, users, rate_limit_per_ip="2/minute")
    client = from_address(app, "203.0.113.11")
    for n in range(2):
        assert client.post("/api/auth/login", headers={"X-Forwarded-For": f"192.0.2.{n}"},
                           json={"email": unique_email(), "password": "x"}).status_code == 401
    assert_rate_limited(client.post("/api/auth/login", headers={"X-Forwarded-For": "192.0.2.9"},
                                    json={"email": unique_email(), "password": "x"}))


def test_limits_can_be_switched_off(users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_per_ip="1/minute",
                         rate_limit_enabled=False)
    client = from_address(app, "203.0.113.12")
    assert all(register(client).status_code == 201 for _ in range(3))


def test_several_processes_share_their_counters_in_redis(users, settings_for, redis_url):
    first, second = (build_user_app(settings_for, users, rate_limit_per_ip="3/minute",
                                    rate_limit_storage_url=redis_url) for _ in range(2))
    address = f"203.0.113.{uuid.uuid4().int % 200 + 20}"
    assert register(from_address(first, address)).status_code == 201
    assert register(from_address(second, address)).status_code == 201
    assert register(from_address(first, address)).status_code == 201
    assert_rate_limited(register(from_address(second, address)))


def test_an_unreachable_redis_never_turns_into_a_500(users, settings_for):
    app = build_user_app(settings_for, users, rate_limit_per_ip="2/minute",
                         rate_limit_storage_url=f"redis://127.0.0.1:{free_port()}")
    client = from_address(app, "203.0.113.13")
    assert register(client).status_code == 201
    assert register(client).status_code == 201
    assert_rate_limited(register(client)), "it counts in memory meanwhile"


# --- every bad input is a 4xx with the error body -----------------------------------------

BODY_ENDPOINTS = [("POST", "/api/auth/register"), ("POST", "/api/auth/login"),
                  ("POST", "/api/auth/refresh"), ("POST", "/api/auth/logout"),
                  ("PATCH", "/api/users/me")]


@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
@pytest.mark.parametrize("send, status, code", [
    ({"data": '{"email": ', "content_type": "application/json"}, 400, "invalid_json"),
    ({"data": "email=a@b.c", "content_type": "application/x-www-form-urlencoded"}, 415,
     "unsupported_media_type"),
    ({"json": ["a", "list"]}, 422, "validation_error"),
    ({"json": "a string"}, 422, "validation_error"),
    ({"json": {"refresh_token": 42, "email": 42, "password": 42, "display_name": 42,
               "new_password": 42}}, 422, "validation_error"),
    ({"data": "x" * 70_000, "content_type": "application/json"}, 413, "payload_too_large"),
])
def test_every_malformed_body_gets_a_4xx_error_body(client, account, method, path, send,
                                                    status, code):
    headers = account("lou").headers if path == "/api/users/me" else {}
    answer = client.open(path, method=method, headers=headers, **send)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert error_code(answer) == code


@pytest.mark.parametrize("fields", [
    {"email": "ann\x00@example.com", "password": PASSWORD},
    {"email": "ann@example.com", "password": "pass\x00word"},
    {"email": "é" * 254, "password": "x" * 256},
    {"email": "", "password": ""},
])
def test_strange_login_input_is_refused_cleanly(client, fields):
    answer = client.post("/api/auth/login", json=fields)
    assert answer.status_code in (401, 422)
    assert error_code(answer) in ("invalid_credentials", "validation_error")


@pytest.mark.parametrize("token", ["a\x00b", "é" * 200, " "])
def test_strange_refresh_tokens_are_refused_cleanly(client, token):
    answer = refresh(client, token)
    assert answer.status_code in (401, 422)
    assert client.post("/api/auth/logout", json={"refresh_token": token}).status_code in (
        204, 422)


def test_the_openapi_document_lists_the_account_endpoints(client):
    paths = client.get("/api/users/openapi.json").get_json()["paths"]
    assert {"get", "patch"} <= set(paths["/api/users/me"])
    assert "post" in paths["/api/users/{user_id}/suspend"]
    assert "post" in paths["/api/users/{user_id}/unsuspend"]
    assert "429" in paths["/api/auth/login"]["post"]["responses"]


@pytest.mark.parametrize("authorization", [
    "Bearer", "Bearer ", "Bearer a b", "Basic YW5uOnB3", "Bearer é.é.é", "Bearer ...",
    "Bearer eyJhbGciOiJSUzI1NiJ9.e30.", "Token abc", "x" * 4000,
])
def test_a_malformed_authorization_header_is_a_401_error_body(client, authorization):
    for answer in (client.get("/api/users/me", headers={"Authorization": authorization}),
                   client.patch("/api/users/me", json={"display_name": "X"},
                                headers={"Authorization": authorization}),
                   client.post(f"/api/users/{uuid.uuid4()}/suspend",
                               headers={"Authorization": authorization})):
        assert answer.status_code == 401, (authorization, answer.get_data(as_text=True))
        assert error_code(answer) in ("unauthorized", "invalid_token")
