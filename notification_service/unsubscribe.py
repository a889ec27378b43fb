"""One-click unsubscribe: a signed token naming a user and a kind of email, good without
signing in (RFC 8058's ``List-Unsubscribe-Post`` and the link at the foot of each optional
email). The key is made by the service on first use and kept in its own database, so every
replica signs and checks alike and nothing needs configuring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auction_common.problems import Problem

from .models import SigningKey
from .preferences import KINDS

KEY_NAME = "unsubscribe"
_keys = SigningKey.__table__


def _key(session: Session) -> bytes:
    """The signing key, created by whichever transaction needs it first (two at once: one
    insert wins, both read the winner's)."""
    read = select(_keys.c.secret).where(_keys.c.name == KEY_NAME)
    key = session.execute(read).scalar()
    if key is None:
        session.execute(insert(_keys).values(name=KEY_NAME, secret=secrets.token_bytes(32))
                        .on_conflict_do_nothing(index_elements=[_keys.c.name]))
        key = session.execute(read).scalar_one()
    return bytes(key)


def _signature(key: bytes, user_id: uuid.UUID, kind: str) -> str:
    digest = hmac.new(key, f"unsubscribe:{user_id}:{kind}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def unsubscribe_token(session: Session, user_id: uuid.UUID, kind: str) -> str:
    """``<user id>.<kind>.<signature>``: turns ``kind``'s email off for ``user_id``."""
    return unsubscribe_signer(session)(user_id, kind)


def unsubscribe_signer(session: Session) -> Callable[[uuid.UUID, str], str]:
    """:func:`unsubscribe_token` for any number of tokens, the key read once."""
    key = _key(session)
    return lambda user_id, kind: f"{user_id.hex}.{kind}.{_signature(key, user_id, kind)}"


def read_unsubscribe_token(session: Session, token: str) -> tuple[uuid.UUID, str]:
    """(user id, kind) of a genuine token; 400 ``invalid_token`` for anything else."""
    invalid = Problem(400, "invalid_token", "This unsubscribe link is not valid.",
                      [{"field": "token", "message": "not a valid unsubscribe token"}])
    parts = token.split(".")
    if len(parts) != 3 or parts[1] not in KINDS:
        raise invalid
    try:
        user_id = uuid.UUID(hex=parts[0])
    except ValueError:
        raise invalid from None
    if not hmac.compare_digest(parts[2], _signature(_key(session), user_id, parts[1])):
        raise invalid
    return user_id, parts[1]
