"""user_service on real PostgreSQL: accounts, credentials, access and refresh tokens."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import text

from auction_common.events import EventSchemas
from auction_common.keys import generate_private_key_pem
from user_service.app import EVENT_SCHEMAS

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


def test_an_email_is_taken_whatever_its_case(client):
    email = unique_email("bob")
    assert register(client, email=email).status_code == 201
    again = register(client, email=email.upper())
    assert again.status_code == 409
    assert error_code(again) == "email_taken"


def test_registering_announces_user_registered_in_the_outbox(client, db):
    user = register(client, display_name="Cleo").get_json()
    with db.engine.connect() as conn:
        [event] = conn.execute(text(
            "SELECT payload FROM users.outbox WHERE type = 'user.registered' "
            "AND payload->'data'->>'user_id' = :u"), {"u": user["id"]}).scalars().all()
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"] == {"user_id": user["id"], "email": user["email"],
                             "display_name": "Cleo", "role": "user"}


@pytest.mark.parametrize("fields, code, field", [
    ({"password": "short"}, "weak_password", "password"),
    ({"password": "1234567"}, "weak_password", "password"),
    ({"email": "not-an-email"}, "validation_error", "email"),
    ({"email": "ann@"}, "validation_error", "email"),
    ({"email": ["ann@example.com"]}, "validation_error", "email"),
    ({"email": "a" * 250 + "@example.com"}, "validation_error", "email"),
    ({"email": None}, "validation_error", "email"),
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
