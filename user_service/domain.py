"""Account rules, free of Flask and SQL."""

from __future__ import annotations

import hashlib
import secrets

from auction_common.problems import Problem


class AccountError(Problem):
    """A rule about accounts was broken; ``code`` is the machine-readable reason."""

    def __init__(self, code: str, message: str, status: int = 422, details=None):
        super().__init__(status, code, message, details)


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


#: Roles and statuses an account can have (also CHECK constraints in the database).
ROLES = ("user", "admin")
STATUSES = ("active", "suspended")


def new_refresh_token() -> tuple[str, str]:
    """A fresh opaque refresh token and the hash we store instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a refresh token."""
    return hashlib.sha256(token.encode()).hexdigest()
