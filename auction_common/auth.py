"""Access-token verification (RS256) for every service, with the platform's error body.

Several public keys may verify tokens at once (``JWT_PUBLIC_KEY``/``JWT_PUBLIC_KEY_FILE`` and
every ``*.pem`` in ``JWT_PUBLIC_KEYS_DIR``): a token names its key in the ``kid`` header, so the
signing key can rotate without signing anybody out.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask_jwt_extended import (
    JWTManager,
    get_jwt,
    get_jwt_identity,
    verify_jwt_in_request,
)
from flask_jwt_extended import view_decorators as jwt_views

from .errors import error_response
from .keys import key_id, public_key_pem
from .problems import Problem

log = logging.getLogger(__name__)

#: Claims every access token must carry (issuer and audience are checked besides).
REQUIRED_CLAIMS = ("sub", "role", "jti", "iat", "exp")


def canonical_public_key_pem(pem: str, source: str = "a public key") -> str:
    """The RSA public key ``pem`` in one canonical PEM form, so that its ``kid`` is stable."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise RuntimeError(f"{source} is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise RuntimeError(f"{source} is not an RSA public key")
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def verification_keys(settings, private_key_pem: str | None = None) -> dict[str, str]:
    """Every public key that verifies access tokens, by ``kid``; the first is the primary one
    (it verifies tokens that name no key). With ``private_key_pem`` (the signing service), the
    key that signs comes first."""
    sources: list[tuple[str, str]] = []
    if private_key_pem:
        sources.append(("the signing key", public_key_pem(private_key_pem)))
    if settings.jwt_public_key is not None:
        sources.append(("JWT_PUBLIC_KEY", settings.jwt_public_key.get_secret_value()))
    if settings.jwt_public_key_file is not None:
        path = Path(settings.jwt_public_key_file)
        sources.append((f"JWT_PUBLIC_KEY_FILE {path}", path.read_text()))
    directory = getattr(settings, "jwt_public_keys_dir", None)
    if directory is not None:
        paths = sorted(Path(directory).glob("*.pem"))
        if not paths:
            raise RuntimeError(f"JWT_PUBLIC_KEYS_DIR {directory} holds no *.pem key")
        sources += [(f"JWT_PUBLIC_KEYS_DIR {path}", path.read_text()) for path in paths]
    if not sources:
        raise RuntimeError("set JWT_PUBLIC_KEY, JWT_PUBLIC_KEY_FILE or JWT_PUBLIC_KEYS_DIR")
    keys: dict[str, str] = {}
    for source, pem in sources:
        canonical = canonical_public_key_pem(pem, source)
        keys.setdefault(key_id(canonical), canonical)
    return keys


class _VerifiedTokenCache(JWTManager):
    """A JWTManager that remembers the tokens it has verified, until they expire.

    A client sends the same access token with every request for its lifetime; verifying it
    again each time (flask-jwt-extended parses it three times, PyJWT checks every character in
    Python, then the RSA signature) was a sixth of a bid's CPU in the web process. A token
    string maps to exactly one verification result, so replaying it until ``exp`` decides the
    same; a token that failed is never remembered. Bounded: the oldest entries go first."""

    def __init__(self, app: Flask, max_tokens: int = 10_000):
        self._verified: dict[str, dict] = {}
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        super().__init__(app)

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None,
                                allow_expired: bool = False) -> dict:
        if csrf_value is not None or allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        claims = self._verified.get(encoded_token)
        if claims is not None and claims["exp"] > time.time():
            return dict(claims)
        claims = super()._decode_jwt_from_config(encoded_token)
        with self._lock:
            if len(self._verified) >= self._max_tokens:
                self._verified.pop(next(iter(self._verified)), None)
            self._verified[encoded_token] = dict(claims)
        return claims


def _headers_read_once(read: Callable[[str], dict], max_tokens: int = 10_000):
    """``read`` (the header of an encoded token), remembered per token string (at most
    ``max_tokens``, least recently used first out): a token's header is a function of its
    text. Each caller gets its own copy."""
    remembered = functools.lru_cache(maxsize=max_tokens)(read)

    def header(encoded_token: str) -> dict:
        return dict(remembered(encoded_token))

    header.reads_once = read
    return header


def _read_token_headers_once() -> None:
    """Make flask-jwt-extended read each verified token's header once, not on every request.

    Its request verification decodes the token's header again after verifying the token (the
    verification itself is remembered, see :class:`_VerifiedTokenCache`), and PyJWT checks
    every character of all three segments in Python to do it: a third of a bid request's CPU
    in the web process outside its transaction (py-spy, the bid route with the transaction
    stubbed), for a dict that never changes for a given token. flask-jwt-extended has no hook
    for it, so its module's reference is replaced by a remembering wrapper around the same
    function (only tokens it has just verified reach it). Done once per process; a release
    without that reference is left as it is."""
    current = getattr(jwt_views, "get_unverified_jwt_headers", None)
    if current is not None and not hasattr(current, "reads_once"):
        jwt_views.get_unverified_jwt_headers = _headers_read_once(current)


def init_jwt(
    app: Flask,
    settings,
    private_key_pem: str | None = None,
    access_token_lifetime: timedelta = timedelta(minutes=15),
) -> JWTManager:
    """Verify RS256 tokens with the configured public keys (picked by ``kid``); sign them too
    when given the private key. The keys are in ``app.extensions["jwt_verification_keys"]``."""
    keys = verification_keys(settings, private_key_pem)
    primary = next(iter(keys.values()))
    app.extensions["jwt_verification_keys"] = keys
    # Parsed once: handing PyJWT a PEM string would parse it again on every request.
    decoding_keys = {kid: serialization.load_pem_public_key(pem.encode())
                     for kid, pem in keys.items()}
    primary_key = next(iter(decoding_keys.values()))
    app.config.update(
        JWT_ALGORITHM="RS256",
        JWT_DECODE_ALGORITHMS=["RS256"],
        JWT_PUBLIC_KEY=primary,
        JWT_PRIVATE_KEY=private_key_pem or "",
        JWT_ENCODE_ISSUER=settings.jwt_issuer,
        JWT_DECODE_ISSUER=settings.jwt_issuer,
        JWT_ENCODE_AUDIENCE=settings.jwt_audience,
        JWT_DECODE_AUDIENCE=settings.jwt_audience,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=access_token_lifetime,
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt = _VerifiedTokenCache(app)
    _read_token_headers_once()

    @jwt.decode_key_loader
    def _key_named_by_token(header: dict, claims: dict) -> rsa.RSAPublicKey:
        # Called with the unverified token: refuse one lacking a required claim (PyJWT would
        # accept a token without ``exp`` forever), then pick the key its ``kid`` names. An
        # unknown kid gets the primary key, whose signature check then fails.
        for claim in REQUIRED_CLAIMS:
            if claim not in claims:
                raise pyjwt.MissingRequiredClaimError(claim)
        # Every service reads ``sub`` as an account id: anything else is no token of ours.
        if not _is_uuid(claims["sub"]) or not isinstance(claims["role"], str):
            raise pyjwt.InvalidTokenError("sub")
        kid = header.get("kid")
        return decoding_keys.get(kid, primary_key) if isinstance(kid, str) else primary_key

    # The JWT library's own messages stay in the log: a client learns the code, not which of
    # the checks its forgery failed.
    @jwt.unauthorized_loader
    def _missing(reason: str):
        return error_response(401, "unauthorized", "A Bearer access token is required.")

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        log.info("refused an access token: %s", reason)
        return error_response(401, "invalid_token", "The access token is not valid.")

    @jwt.expired_token_loader
    def _expired(header, payload):
        return error_response(401, "token_expired", "The access token has expired.")

    @jwt.revoked_token_loader
    def _revoked(header, payload):
        return error_response(401, "token_revoked", "The access token has been revoked.")

    @jwt.user_lookup_error_loader
    def _unknown_user(header, payload):
        return error_response(401, "invalid_token", "The token's user does not exist.")

    return jwt


def _is_uuid(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _verified_identity(optional: bool):
    """The identity of the request's access token, verified once per request: a token that
    an earlier step of this request verified (the suspended-account check) is not decoded and
    checked again (pyjwt's base64 checks cost ~0.1 ms per token, on every bid)."""
    try:
        claims = get_jwt()
    except RuntimeError:  # not verified yet in this request
        claims = None
    if not claims:
        verify_jwt_in_request(optional=optional)
    return get_jwt_identity()


def current_user_id() -> str:
    """The authenticated user's id; raises 401 when the request carries no valid token."""
    identity = _verified_identity(optional=False)
    if not identity:
        raise Problem(401, "invalid_token", "The access token names no user.")
    return str(identity)


def viewer_id() -> str | None:
    """The signed-in caller of a public route, if the request carries a token (a bad token is
    still a 401)."""
    identity = _verified_identity(optional=True)
    return str(identity) if identity else None


def current_claims() -> dict:
    """The verified token's claims (after :func:`current_user_id` or ``jwt_required``)."""
    return get_jwt()
