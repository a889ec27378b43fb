"""Use cases of user_service, each one unit of work."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from auction_common.db import Database, UnitOfWork
from auction_common.events import utcnow

from .domain import AccountError, hash_token, new_refresh_token, normalise_email
from .models import RefreshToken, User
from .passwords import PasswordHashing, check_password
from .presenters import account_view


def _announce_update(uow: UnitOfWork, user: User) -> None:
    """``user.updated``: the full snapshot other services keep (contact, name, role, status),
    with the account's next version (incremented by the database, so that two changes made
    at once never share one: consumers apply only the newest)."""
    user.version = User.version + 1
    uow.session.flush()
    uow.session.refresh(user, ["version"])
    uow.publish("user.updated", {
        "user_id": str(user.id), "email": user.email, "display_name": user.display_name,
        "role": user.role, "status": user.status, "version": user.version,
    })


def _user_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _active_user(uow: UnitOfWork, user_id: str, lock: bool = False) -> User:
    """The token's user, or 401 (no such user any more) / 403 (suspended)."""
    key = _user_id(user_id)
    user = None
    if key is not None:
        statement = select(User).where(User.id == key)
        user = uow.session.scalar(statement.with_for_update() if lock else statement)
    if user is None:
        raise AccountError("invalid_token", "The token's user does not exist.", 401)
    if user.status != "active":
        raise AccountError("user_suspended", "This account is suspended.", 403)
    return user


def revoke_sessions(uow: UnitOfWork, user_id: uuid.UUID, reason: str,
                    keep_family: uuid.UUID | None = None) -> None:
    """Revoke every refresh token of a user (but those of ``keep_family``, this session)."""
    statement = update(RefreshToken).where(
        RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    if keep_family is not None:
        statement = statement.where(RefreshToken.family_id != keep_family)
    uow.session.execute(statement.values(revoked_at=utcnow(), revoked_reason=reason))


# --- accounts -----------------------------------------------------------------------------


def register_user(db: Database, passwords: PasswordHashing, email: str, password: str,
                  display_name: str, min_length: int, role: str = "user") -> dict:
    """Create an account and announce it with ``user.registered``."""
    email = normalise_email(email)
    display_name = display_name.strip()
    check_password(password, min_length, personal=(email, display_name))
    with db.unit_of_work() as uow:
        taken = uow.session.scalar(select(User.id).where(func.lower(User.email) == email))
        if taken:
            raise AccountError("email_taken", "An account with this email already exists.", 409)
        user = User(id=uuid.uuid4(), email=email, display_name=display_name,
                    password_hash=passwords.hash(password), role=role, status="active",
                    version=1)
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError:
            raise AccountError(
                "email_taken", "An account with this email already exists.", 409
            ) from None
        uow.publish("user.registered", {
            "user_id": str(user.id), "email": user.email, "display_name": user.display_name,
            "role": user.role, "version": 1,
        })
        uow.session.refresh(user)
        uow.commit()
        return account_view(user)


def authenticate(db: Database, passwords: PasswordHashing, email: str, password: str) -> dict:
    """The account for these credentials, or ``invalid_credentials``; renews the stored hash
    when the hashing parameters have changed since it was made."""
    with db.unit_of_work() as uow:
        user = uow.session.scalar(
            select(User).where(func.lower(User.email) == normalise_email(email))
        )
        if not passwords.verify(user.password_hash if user else None, password):
            raise AccountError("invalid_credentials", "Wrong email or password.", 401)
        if user.status != "active":
            raise AccountError("user_suspended", "This account is suspended.", 403)
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash(password)
            uow.commit()
        return account_view(user)


def get_user(db: Database, user_id: str) -> dict | None:
    """A user (as :func:`account_view`) by id, or None."""
    key = _user_id(user_id)
    if key is None:
        return None
    with db.unit_of_work() as uow:
        user = uow.session.get(User, key)
        return account_view(user) if user else None


def get_user_by_email(db: Database, email: str) -> dict | None:
    """A user (as :func:`account_view`) by email, whatever its case, or None."""
    with db.unit_of_work() as uow:
        user = uow.session.scalar(
            select(User).where(func.lower(User.email) == normalise_email(email)))
        return account_view(user) if user else None


def get_active_user(db: Database, user_id: str) -> dict:
    """The signed-in user, or 401 when the account is gone, 403 when it is suspended."""
    with db.unit_of_work() as uow:
        return account_view(_active_user(uow, user_id))


def update_account(db: Database, passwords: PasswordHashing, user_id: str, min_length: int,
                   *, session_family: str | None = None, display_name: str | None = None,
                   new_password: str | None = None,
                   current_password: str | None = None) -> dict:
    """Change the display name and/or the password (which needs the current password and
    signs out every other session: their refresh tokens are revoked). Announces
    ``user.updated`` when the name changed."""
    with db.unit_of_work() as uow:
        user = _active_user(uow, user_id, lock=True)
        if new_password is not None:
            if current_password is None or not passwords.verify(user.password_hash,
                                                                current_password):
                raise AccountError(
                    "wrong_current_password", "The current password is not right.", 403,
                    [{"field": "current_password", "message": "This is not your password."}],
                )
            if passwords.verify(user.password_hash, new_password):
                raise AccountError(
                    "password_unchanged", "The new password is the current one.",
                    details=[{"field": "new_password",
                              "message": "Choose a password you do not use yet."}],
                )
            try:
                check_password(new_password, min_length,
                               personal=(user.email, user.display_name, display_name))
            except AccountError as exc:
                exc.details = [dict(item, field="new_password") for item in exc.details]
                raise
            user.password_hash = passwords.hash(new_password)
            revoke_sessions(uow, user.id, "password_change",
                            keep_family=_user_id(session_family) if session_family else None)
        if display_name is not None and display_name != user.display_name:
            user.display_name = display_name
            _announce_update(uow, user)
        uow.session.flush()
        uow.session.refresh(user)
        uow.commit()
        return account_view(user)


def set_status(db: Database, actor_id: str, target_id: str, status: str) -> dict:
    """An administrator suspends (``suspended``) or restores (``active``) an account.

    Suspending revokes every refresh token of the account, so its sessions end when their
    access tokens expire. Announces ``user.updated`` when the status changed.
    """
    with db.unit_of_work() as uow:
        actor = _active_user(uow, actor_id)
        if actor.role != "admin":
            raise AccountError("forbidden", "Only an administrator can do this.", 403)
        key = _user_id(target_id)
        user = uow.session.scalar(
            select(User).where(User.id == key).with_for_update()) if key else None
        if user is None:
            raise AccountError("user_not_found", "No such user.", 404)
        if user.id == actor.id:
            raise AccountError("cannot_suspend_self",
                               "An administrator cannot suspend their own account.", 409)
        if user.status != status:
            user.status = status
            if status == "suspended":
                revoke_sessions(uow, user.id, "suspended")
            _announce_update(uow, user)
            uow.session.flush()
            uow.session.refresh(user)
        uow.commit()
        return account_view(user)


def create_admin(db: Database, passwords: PasswordHashing, email: str, password: str | None,
                 display_name: str, min_length: int) -> tuple[dict, bool]:
    """Create an administrator account, or make the existing account of ``email`` one (its
    password unchanged). Returns the user and whether it was created."""
    with db.unit_of_work() as uow:
        user = uow.session.scalar(
            select(User).where(func.lower(User.email) == normalise_email(email))
            .with_for_update()
        )
        if user is not None:
            if user.role != "admin" or user.status != "active":
                user.role, user.status = "admin", "active"
                _announce_update(uow, user)
                uow.session.flush()
                uow.session.refresh(user)
                uow.commit()
            return account_view(user), False
    if password is None:
        raise AccountError("validation_error", "A password is needed for a new account.")
    return register_user(db, passwords, email, password, display_name, min_length,
                         role="admin"), True


# --- refresh tokens -----------------------------------------------------------------------


def issue_refresh_token(db: Database, user_id: str, ttl_seconds: int,
                        family_id: uuid.UUID | None = None) -> tuple[str, str]:
    """Store and return a new refresh token and its family (a new one unless given)."""
    token, digest = new_refresh_token()
    family_id = family_id or uuid.uuid4()
    with db.unit_of_work() as uow:
        uow.session.add(RefreshToken(
            user_id=uuid.UUID(user_id), family_id=family_id, token_hash=digest,
            expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        ))
        uow.commit()
    return token, str(family_id)


def rotate_refresh_token(db: Database, token: str, ttl_seconds: int) -> tuple[dict, str, str]:
    """Exchange a refresh token for a new one of the same family: (user, token, family).

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
                update(RefreshToken).where(RefreshToken.family_id == stored.family_id,
                                           RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason="reuse")
            )
            uow.commit()
            raise AccountError("invalid_refresh_token", "The refresh token was already used.", 401)
        user = uow.session.get(User, stored.user_id)
        if user is None:
            raise AccountError("invalid_refresh_token", "The refresh token is not valid.", 401)
        if user.status != "active":
            raise AccountError("user_suspended", "This account is suspended.", 403)
        stored.used_at = now
        new_token, digest = new_refresh_token()
        uow.session.add(RefreshToken(
            user_id=stored.user_id, family_id=stored.family_id, token_hash=digest,
            expires_at=now + timedelta(seconds=ttl_seconds),
        ))
        uow.commit()
        return account_view(user), new_token, str(stored.family_id)


def revoke_refresh_token(db: Database, token: str) -> None:
    """Log out: the token's family stops working. Unknown tokens are ignored."""
    with db.unit_of_work() as uow:
        stored = uow.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(token))
        )
        if stored is not None:
            uow.session.execute(
                update(RefreshToken).where(RefreshToken.family_id == stored.family_id,
                                           RefreshToken.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_reason="logout")
            )
            uow.commit()
