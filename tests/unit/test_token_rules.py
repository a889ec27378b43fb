"""Access-token rules every service applies (``auction_common.auth``), without a database:
RS256 only, issuer and audience, required claims, and verification by any configured key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from flask import Flask, jsonify

from auction_common.auth import (
    REQUIRED_CLAIMS,
    canonical_public_key_pem,
    current_user_id,
    init_jwt,
    verification_keys,
)
from auction_common.errors import register_error_handlers
from auction_common.keys import generate_private_key_pem, key_id, public_key_pem
from auction_common.settings import CommonSettings
from tests.support.waiting import wait_for

OLD, NEW, STRANGER = (generate_private_key_pem() for _ in range(3))


def settings(**keys) -> CommonSettings:
    return CommonSettings(database_url="postgresql://unused", **keys)


def kid(private_pem: str) -> str:
    return key_id(public_key_pem(private_pem))


def token(private_pem: str, *, header_kid: str | None | object = ..., **changes) -> str:
    """An access token as user_service makes it, signed with ``private_pem``."""
    now = datetime.now(UTC)
    claims = {"sub": str(uuid.uuid4()), "role": "user", "jti": str(uuid.uuid4()),
              "iat": now, "nbf": now, "exp": now + timedelta(minutes=15), "type": "access",
              "iss": "auction-platform", "aud": "auction-platform"}
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    headers = {"kid": kid(private_pem) if header_kid is ... else header_kid}
    if headers["kid"] is None:
        headers = {}
    return jwt.encode(claims, private_pem, algorithm="RS256", headers=headers)


def verifier(config: CommonSettings, private_pem: str | None = None) -> Flask:
    """A service app that only verifies tokens (``GET /whoami``)."""
    app = Flask("verifier")
    init_jwt(app, config, private_key_pem=private_pem)
    register_error_handlers(app)
    app.add_url_rule("/whoami", "whoami", lambda: jsonify({"id": current_user_id()}))
    return app


def ask(app: Flask, access_token: str):
    return app.test_client().get("/whoami", headers={"Authorization": f"Bearer {access_token}"})


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def keys_dir(tmp_path):
    """A JWT_PUBLIC_KEYS_DIR with the old and the new public key (mid-rotation)."""
    for name, private_pem in (("old", OLD), ("new", NEW)):
        (tmp_path / f"{name}.pem").write_text(public_key_pem(private_pem))
    (tmp_path / "README").write_text("not a key: ignored")
    return tmp_path


# --- which keys verify ---------------------------------------------------------------------


def test_a_single_key_file_still_works_as_before(tmp_path):
    path = tmp_path / "jwt_public.pem"
    path.write_text(public_key_pem(OLD))
    app = verifier(settings(jwt_public_key_file=path))
    assert ask(app, token(OLD)).status_code == 200
    assert ask(app, token(OLD, header_kid=None)).status_code == 200, "a token without kid"


def test_during_a_rotation_tokens_of_the_old_and_the_new_key_both_verify(keys_dir):
    app = verifier(settings(jwt_public_keys_dir=keys_dir))
    assert ask(app, token(OLD)).status_code == 200
    assert ask(app, token(NEW)).status_code == 200
    stranger = ask(app, token(STRANGER))
    assert stranger.status_code == 401
    assert stranger.get_json()["error"]["code"] == "invalid_token"


def test_once_the_old_key_is_removed_its_tokens_stop_verifying(keys_dir):
    (keys_dir / "old.pem").unlink()
    app = verifier(settings(jwt_public_keys_dir=keys_dir))
    assert ask(app, token(NEW)).status_code == 200
    assert ask(app, token(OLD)).status_code == 401


def test_a_token_naming_another_keys_kid_is_refused(keys_dir):
    app = verifier(settings(jwt_public_keys_dir=keys_dir))
    assert ask(app, token(STRANGER, header_kid=kid(OLD))).status_code == 401
    assert ask(app, token(STRANGER, header_kid="made-up")).status_code == 401
    _, payload, signature = token(OLD).split(".")
    odd_kid = _b64({"alg": "RS256", "typ": "JWT", "kid": ["not", "a", "string"]})
    assert ask(app, f"{odd_kid}.{payload}.{signature}").status_code == 401


def test_the_signing_key_comes_first_then_every_configured_key_once(keys_dir, tmp_path):
    same_as_dir = tmp_path / "copy.pem"
    # The same key written differently (extra blank lines) is still one key, one kid.
    same_as_dir.write_text("\n" + public_key_pem(OLD) + "\n\n")
    found = verification_keys(
        settings(jwt_public_key_file=same_as_dir, jwt_public_keys_dir=keys_dir), NEW)
    assert list(found) == [kid(NEW), kid(OLD)]
    assert all(pem == canonical_public_key_pem(pem) for pem in found.values())


@pytest.mark.parametrize("bad", ["not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                 "-----END PUBLIC KEY-----\n"])
def test_a_key_that_is_not_an_rsa_public_key_stops_the_start(tmp_path, bad):
    path = tmp_path / "broken.pem"
    path.write_text(bad)
    with pytest.raises(RuntimeError, match="broken.pem"):
        verification_keys(settings(jwt_public_key_file=path))


def test_no_key_at_all_or_an_empty_keys_dir_stops_the_start(tmp_path):
    with pytest.raises(RuntimeError, match="JWT_PUBLIC_KEY"):
        verification_keys(settings())
    with pytest.raises(RuntimeError, match="holds no"):
        verification_keys(settings(jwt_public_keys_dir=tmp_path))


# --- what a token must be ------------------------------------------------------------------


@pytest.fixture(scope="module")
def app():
    return verifier(settings(jwt_public_key=public_key_pem(OLD)))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_token_missing_a_required_claim_is_refused(app, claim):
    answer = ask(app, token(OLD, **{claim: None}))
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("changes, code", [
    ({"iss": "someone-else"}, "invalid_token"),
    ({"aud": "another-platform"}, "invalid_token"),
    ({"exp": datetime.now(UTC) - timedelta(seconds=5)}, "token_expired"),
    ({"nbf": datetime.now(UTC) + timedelta(hours=1)}, "invalid_token"),
])
def test_a_token_for_another_issuer_audience_or_time_is_refused(app, changes, code):
    answer = ask(app, token(OLD, **changes))
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == code


def test_an_unsigned_or_hmac_token_is_refused_whatever_it_claims(app):
    claims = jwt.decode(token(OLD), options={"verify_signature": False})
    claims["role"] = "admin"
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    # Algorithm confusion: an HMAC "signed" with the public key, which anybody has.
    forged_payload = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(public_key_pem(OLD).encode(), forged_payload.encode(), hashlib.sha256)
    hmac_token = f"{forged_payload}.{_b64(mac.digest())}"
    for forged in (unsigned, hmac_token, "garbage", "a.b.c", f"{_b64([1])}.{_b64([2])}.x"):
        answer = ask(app, forged)
        assert answer.status_code == 401, forged
        assert answer.get_json()["error"]["code"] == "invalid_token"


def test_a_token_accepted_before_is_refused_once_it_expires(app):
    # exp is whole seconds: a few of them, so a busy machine still asks while it is valid.
    expires = datetime.now(UTC) + timedelta(seconds=4)
    short = token(OLD, exp=expires)
    assert ask(app, short).status_code == 200
    assert ask(app, short).status_code == 200, "verified again (or remembered) while valid"
    wait_for(lambda: datetime.now(UTC).timestamp() > int(expires.timestamp()) + 0.05,
             timeout=10, interval=0.05, message="the token's exp to pass")
    answer = ask(app, short)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "token_expired"


def test_a_token_accepted_before_does_not_vouch_for_a_tampered_copy(app):
    good = token(OLD)
    assert ask(app, good).status_code == 200
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    claims["role"] = "admin"
    tampered_signature = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    for forged in (f"{header}.{_b64(claims)}.{signature}",
                   f"{header}.{payload}.{tampered_signature}"):
        answer = ask(app, forged)
        assert answer.status_code == 401, forged
        assert answer.get_json()["error"]["code"] == "invalid_token"


def test_a_tokens_header_is_read_once_and_each_request_gets_it_whole(monkeypatch):
    from flask_jwt_extended import get_jwt_header

    app = verifier(settings(jwt_public_key=public_key_pem(OLD)))
    reads = []
    original = jwt.get_unverified_header
    monkeypatch.setattr(jwt, "get_unverified_header",
                        lambda encoded: reads.append(encoded) or original(encoded))

    def header_of_this_request():
        user = current_user_id()
        header = get_jwt_header()
        seen = dict(header)
        header["kid"] = "changed by a view"  # must not reach the next request
        return jsonify({"id": user, "header": seen})

    app.add_url_rule("/header", "header", header_of_this_request)
    fresh = token(OLD)
    answers = [app.test_client().get("/header", headers={"Authorization": f"Bearer {fresh}"})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.get_json()["header"] == original(fresh) for a in answers)
    # Once to verify it (then remembered) and once for flask-jwt-extended's header: not the
    # four times of three requests each reading it again.
    assert reads.count(fresh) == 2
