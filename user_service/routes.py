"""HTTP routes of user_service: parse, call a handler, serialise."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from flask import Blueprint, current_app, jsonify
from flask_jwt_extended import create_access_token
from pydantic import BaseModel, EmailStr, Field, StringConstraints

from auction_common.api import OpenApi
from auction_common.auth import current_user_id
from auction_common.errors import ApiError
from auction_common.keys import jwk, key_id

from . import handlers

bp = Blueprint("users", __name__)
api = OpenApi("user_service", description="Accounts, authentication and tokens.")


class RegisterBody(BaseModel):
    email: EmailStr = Field(max_length=254)
    password: str = Field(max_length=256)
    # Stripped before the length check: a name of only spaces is no name.
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=60)]


class LoginBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class RefreshBody(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    role: str = "user"
    created_at: str | None = None


class PublicProfile(BaseModel):
    id: str
    display_name: str
    member_since: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    user: UserOut


def _settings():
    return current_app.extensions["settings"]


def _db():
    return current_app.extensions["db"]


def _token_pair(user: dict, refresh_token: str) -> dict:
    settings = _settings()
    access = create_access_token(
        identity=user["id"],
        additional_claims={"role": user["role"]},
        # Names the JWKS key that verifies it, so verifiers can pick it (and keys can rotate).
        additional_headers={"kid": key_id(settings.public_key_pem())},
        expires_delta=timedelta(seconds=settings.access_token_ttl_seconds),
    )
    return {
        "access_token": access,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_seconds,
        "user": user,
    }


@api.route(bp, "/api/auth/register", "POST", summary="Create an account", body=RegisterBody,
           response=UserOut, status=201, errors=(409,), tag="auth")
def register(body: RegisterBody):
    user = handlers.register_user(
        _db(), body.email, body.password, body.display_name, _settings().password_min_length
    )
    return jsonify(user), 201


@api.route(bp, "/api/auth/login", "POST", summary="Exchange credentials for tokens",
           body=LoginBody, response=TokenPair, errors=(401, 403), tag="auth")
def login(body: LoginBody):
    user = handlers.authenticate(_db(), body.email, body.password)
    refresh = handlers.issue_refresh_token(_db(), user["id"], _settings().refresh_token_ttl_seconds)
    return jsonify(_token_pair(user, refresh))


@api.route(bp, "/api/auth/refresh", "POST", summary="Rotate a refresh token",
           body=RefreshBody, response=TokenPair, errors=(401,), tag="auth")
def refresh(body: RefreshBody):
    user, token = handlers.rotate_refresh_token(
        _db(), body.refresh_token, _settings().refresh_token_ttl_seconds
    )
    return jsonify(_token_pair(user, token))


@api.route(bp, "/api/auth/logout", "POST", summary="Revoke a refresh token",
           body=RefreshBody, status=204, tag="auth")
def logout(body: RefreshBody):
    handlers.revoke_refresh_token(_db(), body.refresh_token)
    return "", 204


@api.route(bp, "/api/auth/.well-known/jwks.json", "GET", summary="Public keys verifying tokens",
           tag="auth")
def jwks():
    return jsonify({"keys": [jwk(_settings().public_key_pem())]})


@api.route(bp, "/api/users/me", "GET", summary="The signed-in account", response=UserOut,
           auth=True, tag="users")
def me():
    user = handlers.get_user(_db(), current_user_id())
    if user is None:
        raise ApiError(401, "invalid_token", "The token's user does not exist.")
    return jsonify(user)


@api.route(bp, "/api/users/<user_id>", "GET", summary="A user's public profile",
           response=PublicProfile, errors=(404,), tag="users")
def profile(user_id: str):
    user = handlers.get_user(_db(), user_id)
    if user is None:
        raise ApiError(404, "user_not_found", "No such user.")
    return jsonify({"id": user["id"], "display_name": user["display_name"],
                    "member_since": user["created_at"]})
