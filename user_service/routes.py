"""HTTP routes of user_service: parse, call a handler, serialise."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from flask import Blueprint, current_app, jsonify
from flask_jwt_extended import create_access_token, verify_jwt_in_request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from auction_common.api import OpenApi
from auction_common.auth import current_claims, current_user_id
from auction_common.keys import jwk
from auction_common.problems import Problem

from . import handlers, password_reset
from .domain import ONE_LINE, AccountEmail, AccountError, DisplayName
from .presenters import profile_view

bp = Blueprint("users", __name__)
api = OpenApi("user_service", description="Accounts, authentication and tokens.")

Password = Annotated[str, Field(max_length=256)]


class RegisterBody(BaseModel):
    email: AccountEmail
    password: Password
    display_name: DisplayName


class LoginBody(BaseModel):
    email: Annotated[str, StringConstraints(max_length=254, pattern=ONE_LINE)]
    password: Password


class RefreshBody(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class UpdateMeBody(BaseModel):
    """Any of: a new display name; a new password with the current one."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    new_password: Password | None = None
    current_password: Password | None = None


class PasswordResetBody(BaseModel):
    email: Annotated[str, StringConstraints(max_length=254, pattern=ONE_LINE)]


class PasswordResetConfirmBody(BaseModel):
    token: str = Field(min_length=1, max_length=2000)
    new_password: Password


class PasswordResetAnswer(BaseModel):
    status: Literal["sent"]
    message: str


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    role: str = "user"
    status: str = "active"
    created_at: str | None = None


class PublicProfile(BaseModel):
    """What anyone sees; an administrator also sees ``email``, ``role`` and ``status``."""

    id: str
    display_name: str
    member_since: str
    email: str | None = None
    role: str | None = None
    status: str | None = None


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


def _passwords():
    return current_app.extensions["passwords"]


def _token_pair(user: dict, refresh_token: str, family_id: str) -> dict:
    settings = _settings()
    access = create_access_token(
        identity=user["id"],
        # ``sid`` names the login session (the refresh-token family), so that a password
        # change can sign out every session but this one.
        additional_claims={"role": user["role"], "sid": family_id},
        # Names the JWKS key that verifies it, so verifiers can pick it (and keys can rotate).
        additional_headers={"kid": current_app.extensions["jwt_signing_kid"]},
        expires_delta=timedelta(seconds=settings.access_token_ttl_seconds),
    )
    return {
        "access_token": access,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_seconds,
        "user": user,
    }


def _signed_in_admin() -> bool:
    """True when the request carries a valid token of an active administrator."""
    try:
        verify_jwt_in_request(optional=True)
        claims = current_claims()
    except Exception:
        return False
    if not claims or claims.get("role") != "admin":
        return False
    try:
        return handlers.get_active_user(_db(), claims["sub"])["role"] == "admin"
    except AccountError:
        return False


# --- authentication -----------------------------------------------------------------------


@api.route(bp, "/api/auth/register", "POST", summary="Create an account", body=RegisterBody,
           response=UserOut, status=201, errors=(409, 429), tag="auth")
def register(body: RegisterBody):
    user = handlers.register_user(
        _db(), _passwords(), body.email, body.password, body.display_name,
        _settings().password_min_length,
    )
    return jsonify(user), 201


@api.route(bp, "/api/auth/login", "POST", summary="Exchange credentials for tokens",
           body=LoginBody, response=TokenPair, errors=(401, 403, 429), tag="auth")
def login(body: LoginBody):
    user = handlers.authenticate(_db(), _passwords(), body.email, body.password)
    token, family = handlers.issue_refresh_token(
        _db(), user["id"], _settings().refresh_token_ttl_seconds)
    return jsonify(_token_pair(user, token, family))


@api.route(bp, "/api/auth/refresh", "POST", summary="Rotate a refresh token",
           body=RefreshBody, response=TokenPair, errors=(401, 403), tag="auth")
def refresh(body: RefreshBody):
    user, token, family = handlers.rotate_refresh_token(
        _db(), body.refresh_token, _settings().refresh_token_ttl_seconds
    )
    return jsonify(_token_pair(user, token, family))


@api.route(bp, "/api/auth/logout", "POST", summary="Revoke a refresh token",
           body=RefreshBody, status=204, tag="auth")
def logout(body: RefreshBody):
    handlers.revoke_refresh_token(_db(), body.refresh_token)
    return "", 204


@api.route(bp, "/api/auth/.well-known/jwks.json", "GET", summary="Public keys verifying tokens",
           tag="auth")
def jwks():
    keys = current_app.extensions["jwt_verification_keys"]
    response = jsonify({"keys": [jwk(pem) for pem in keys.values()]})
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@api.route(bp, "/api/auth/password-reset", "POST",
           summary="Email a password reset link (answers the same whether the email is known)",
           body=PasswordResetBody, response=PasswordResetAnswer, status=202, errors=(429,),
           tag="auth")
def request_password_reset(body: PasswordResetBody):
    settings = _settings()
    password_reset.request_password_reset(
        _db(), body.email, settings.private_key_pem(),
        current_app.extensions["jwt_signing_kid"], settings.jwt_issuer,
        settings.password_reset_ttl_seconds)
    return jsonify({"status": "sent", "message": "If an account uses this email, a link to "
                    "choose a new password is on its way."}), 202


@api.route(bp, "/api/auth/password-reset/confirm", "POST",
           summary="Choose a new password with a reset link's token (signs out every session)",
           body=PasswordResetConfirmBody, response=UserOut, errors=(403, 429), tag="auth")
def confirm_password_reset(body: PasswordResetConfirmBody):
    settings = _settings()
    user = password_reset.reset_password(
        _db(), _passwords(), body.token, body.new_password,
        current_app.extensions["jwt_verification_keys"], settings.jwt_issuer,
        settings.password_min_length)
    return jsonify(user)


# --- accounts -----------------------------------------------------------------------------


@api.route(bp, "/api/users/me", "GET", summary="The signed-in account", response=UserOut,
           auth=True, errors=(403,), tag="users")
def me():
    return jsonify(handlers.get_active_user(_db(), current_user_id()))


@api.route(bp, "/api/users/me", "PATCH",
           summary="Change the display name, or the password (signs out other sessions)",
           body=UpdateMeBody, response=UserOut, auth=True, errors=(403, 429), tag="users")
def update_me(body: UpdateMeBody):
    user_id = current_user_id()
    if body.display_name is None and body.new_password is None:
        raise Problem(422, "validation_error", "Nothing to change.",
                      [{"field": "body", "message": "Send display_name or new_password."}])
    if body.new_password is not None and body.current_password is None:
        raise Problem(422, "validation_error", "Changing the password needs the current one.",
                      [{"field": "current_password", "message": "Field required"}])
    user = handlers.update_account(
        _db(), _passwords(), user_id, _settings().password_min_length,
        session_family=current_claims().get("sid"), display_name=body.display_name,
        new_password=body.new_password, current_password=body.current_password,
    )
    return jsonify(user)


@api.route(bp, "/api/users/<user_id>", "GET", summary="A user's public profile",
           response=PublicProfile, errors=(404,), tag="users")
def profile(user_id: str):
    user = handlers.get_user(_db(), user_id)
    if user is None:
        raise Problem(404, "user_not_found", "No such user.")
    return jsonify(profile_view(user, for_admin=_signed_in_admin()))


@api.route(bp, "/api/users/<user_id>/suspend", "POST",
           summary="Suspend an account (administrators only)", response=UserOut, auth=True,
           errors=(403, 404, 409), tag="users")
def suspend_user(user_id: str):
    return jsonify(handlers.set_status(_db(), current_user_id(), user_id, "suspended"))


@api.route(bp, "/api/users/<user_id>/unsuspend", "POST",
           summary="Restore a suspended account (administrators only)", response=UserOut,
           auth=True, errors=(403, 404, 409), tag="users")
def unsuspend_user(user_id: str):
    return jsonify(handlers.set_status(_db(), current_user_id(), user_id, "active"))
