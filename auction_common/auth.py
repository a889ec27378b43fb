"""Access-token verification (RS256) for every service, with the platform's error body."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_jwt_extended import (
    JWTManager,
    get_jwt,
    get_jwt_identity,
    verify_jwt_in_request,
)

from .errors import ApiError, error_response


def init_jwt(
    app: Flask,
    settings,
    private_key_pem: str | None = None,
    access_token_lifetime: timedelta = timedelta(minutes=15),
) -> JWTManager:
    """Verify RS256 tokens with the public key; sign them too when given the private key."""
    app.config.update(
        JWT_ALGORITHM="RS256",
        JWT_DECODE_ALGORITHMS=["RS256"],
        JWT_PUBLIC_KEY=settings.public_key_pem(),
        JWT_PRIVATE_KEY=private_key_pem or "",
        JWT_ENCODE_ISSUER=settings.jwt_issuer,
        JWT_DECODE_ISSUER=settings.jwt_issuer,
        JWT_ENCODE_AUDIENCE=settings.jwt_audience,
        JWT_DECODE_AUDIENCE=settings.jwt_audience,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=access_token_lifetime,
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt = JWTManager(app)

    @jwt.unauthorized_loader
    def _missing(reason: str):
        return error_response(401, "unauthorized", "A Bearer access token is required.", reason)

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        return error_response(401, "invalid_token", "The access token is not valid.", reason)

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


def current_user_id() -> str:
    """The authenticated user's id; raises 401 when the request carries no valid token."""
    verify_jwt_in_request()
    identity = get_jwt_identity()
    if not identity:
        raise ApiError(401, "invalid_token", "The access token names no user.")
    return str(identity)


def current_claims() -> dict:
    """The verified token's claims (after :func:`current_user_id` or ``jwt_required``)."""
    return get_jwt()
