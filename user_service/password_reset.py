"""Password reset by email: a signed, single-use link that expires.

The link carries a JWT signed with user_service's key, for a different audience than access
tokens (so that no service takes it for one), naming the account and a fingerprint of its
current password hash. Setting a new password changes that hash, so a link works once; any
other password change (or a hash renewed at login) spends it too. Nothing is stored.

Asking for a link answers the same whether the email has an account or not; the link travels
by email (``user.password_reset_requested``, sent by notification_service).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import jwt
from sqlalchemy import func, select

from auction_common.db import Database
from auction_common.events import isoformat, utcnow

from .domain import AccountError, normalise_email
from .handlers import revoke_sessions
from .models import User
from .passwords import PasswordHashing, check_password
from .presenters import account_view

#: The audience of reset links: never ``JWT_AUDIENCE``, so no verifier accepts one as access.
RESET_AUDIENCE = "password-reset"


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _invalid_link() -> AccountError:
    return AccountError("invalid_reset_token",
                        "This password reset link is not valid: it has expired or was "
                        "already used. Ask for a new one.", 400,
                        [{"field": "token", "message": "expired, used or not a reset link"}])


def reset_token(user: User, private_key_pem: str, kid: str, issuer: str,
                ttl_seconds: int) -> tuple[str, str]:
    """A reset link's token for ``user`` and when it expires (ISO 8601)."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    token = jwt.encode({
        "sub": str(user.id), "pwh": _fingerprint(user.password_hash), "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()), "exp": int(expires.timestamp()), "iss": issuer,
        "aud": RESET_AUDIENCE,
    }, private_key_pem, algorithm="RS256", headers={"kid": kid, "typ": "password-reset"})
    return token, isoformat(expires)


def request_password_reset(db: Database, email: str, private_key_pem: str, kid: str,
                           issuer: str, ttl_seconds: int) -> None:
    """Announce ``user.password_reset_requested`` (the link's token, for notification_service
    to mail) for an active account of ``email``; nothing for an unknown or suspended one. The
    token is signed either way, so that both take the same time."""
    with db.unit_of_work() as uow:
        user = uow.session.scalar(
            select(User).where(func.lower(User.email) == normalise_email(email)))
        nobody = User(id=uuid.uuid4(), password_hash="")
        token, expires_at = reset_token(user or nobody, private_key_pem, kid, issuer,
                                        ttl_seconds)
        if user is None or user.status != "active":
            return
        uow.publish("user.password_reset_requested", {
            "user_id": str(user.id), "email": user.email, "display_name": user.display_name,
            "token": token, "expires_at": expires_at,
        })
        uow.commit()


def reset_password(db: Database, passwords: PasswordHashing, token: str, new_password: str,
                   public_keys: dict, issuer: str, min_length: int) -> dict:
    """Set a new password with a reset link's token (which it spends) and sign out every
    session of the account."""
    try:
        header = jwt.get_unverified_header(token)
        key = public_keys.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
        if key is None:
            raise _invalid_link()
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=RESET_AUDIENCE,
                            issuer=issuer, options={"require": ["sub", "pwh", "exp", "aud"]})
        user_id = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError, TypeError):
        raise _invalid_link() from None
    with db.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.id == user_id).with_for_update())
        if user is None or claims["pwh"] != _fingerprint(user.password_hash):
            raise _invalid_link()
        if user.status != "active":
            raise AccountError("user_suspended", "This account is suspended.", 403)
        try:
            check_password(new_password, min_length, personal=(user.email, user.display_name))
        except AccountError as exc:
            exc.details = [dict(item, field="new_password") for item in exc.details]
            raise
        user.password_hash = passwords.hash(new_password)
        revoke_sessions(uow, user.id, "password_change")
        uow.session.flush()
        uow.session.refresh(user)
        uow.commit()
        return account_view(user)
