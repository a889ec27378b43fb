"""Use cases of user_service, each one unit of work."""

from __future__ import annotations

import uuid
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from auction_common.db import Database
from auction_common.events import isoformat, utcnow

from .domain import (
    AccountError,
    check_password,
    hash_token,
    new_refresh_token,
    normalise_email,
)
from .models import RefreshToken, User

hasher = PasswordHasher()
# Verifying against this keeps "no such email" as slow as "wrong password".
_DUMMY_HASH = hasher.hash("not-a-real-password")


def public_user(user: User) -> dict:
    """The fields of a user that its owner sees."""
    return {
        "id": str(user.id),
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "created_at": isoformat(user.created_at),
    }


def register_user(db: Database, email: str, password: str, display_name: str,
                  min_length: int) -> dict:
    """Create an account and announce it with ``user.registered``."""
    check_password(password, min_length)
    email = normalise_email(email)
    with db.unit_of_work() as uow:
        taken = uow.session.scalar(select(User.id).where(func.lower(User.email) == email))
        if taken:
            raise AccountError("email_taken", "An account with this email already exists.", 409)
        user = User(
            id=uuid.uuid4(), email=email, display_name=display_name.strip(),
            password_hash=hasher.hash(password),
        )
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError:
            raise AccountError(
                "email_taken", "An account with this email already exists.", 409
            ) from None
        uow.publish("user.registered", {
            "user_id": str(user.id), "email": user.email, "display_name": user.display_name,
            "role": user.role,
        })
        uow.session.refresh(user)
        uow.commit()
        return public_user(user)


def authenticate(db: Database, email: str, password: str) -> dict:
    """The account for these credentials, or ``invalid_credentials``."""
    with db.unit_of_work() as uow:
        user = uow.session.scalar(
            select(User).where(func.lower(User.email) == normalise_email(email))
        )
        try:
            hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, InvalidHashError):
            user = None
        if user is None:
            raise AccountError("invalid_credentials", "Wrong email or password.", 401)
        if user.status != "active":
            raise AccountError("user_suspended", "This account is suspended.", 403)
        if hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hasher.hash(password)
            uow.commit()
        return public_user(user)


def issue_refresh_token(db: Database, user_id: str, ttl_seconds: int,
                        family_id: uuid.UUID | None = None) -> str:
    """Store and return a new refresh token (a new family unless rotating one)."""
    token, digest = new_refresh_token()
    with db.unit_of_work() as uow:
        uow.session.add(RefreshToken(
            user_id=uuid.UUID(user_id), family_id=family_id or uuid.uuid4(), token_hash=digest,
            expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        ))
        uow.commit()
    return token


def rotate_refresh_token(db: Database, token: str, ttl_seconds: int) -> tuple[dict, str]:
    """Exchange a refresh token for a new one of the same family.

    A token used twice means it was stolen: the whole family is revoked.
    """
    now = utcnow()
    with db.unit_of_work() as uow:
        stored = uow.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(token))
            .with_for_update()
        )
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise AccountError("invalid_refresh_token", "The refresh token is not valid.", 401)
        if stored.used_at is not None:
            uow.session.execute(
                update(RefreshToken).where(RefreshToken.family_id == stored.family_id)
                .values(revoked_at=now)
            )
            uow.commit()
            raise AccountError("invalid_refresh_token", "The refresh token was already used.", 401)
        user = uow.session.get(User, stored.user_id)
        if user is None or user.status != "active":
            raise AccountError("invalid_refresh_token", "The account is not active.", 401)
        stored.used_at = now
        new_token, digest = new_refresh_token()
        uow.session.add(RefreshToken(
            user_id=stored.user_id, family_id=stored.family_id, token_hash=digest,
            expires_at=now + timedelta(seconds=ttl_seconds),
        ))
        uow.commit()
        return public_user(user), new_token


def revoke_refresh_token(db: Database, token: str) -> None:
    """Log out: the token's family stops working. Unknown tokens are ignored."""
    with db.unit_of_work() as uow:
        stored = uow.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(token))
        )
        if stored is not None:
            uow.session.execute(
                update(RefreshToken).where(RefreshToken.family_id == stored.family_id)
                .values(revoked_at=utcnow())
            )
            uow.commit()


def get_user(db: Database, user_id: str) -> dict | None:
    """A user (as :func:`public_user`) by id, or None."""
    try:
        key = uuid.UUID(str(user_id))
    except ValueError:
        return None
    with db.unit_of_work() as uow:
        user = uow.session.get(User, key)
        return public_user(user) if user else None
