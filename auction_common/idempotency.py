"""``Idempotency-Key`` on POST: a retried request gets the first answer, never a second effect.

The first answer (status and body) to ``(user, key)`` is stored in the service's own
``idempotency_keys`` table in the same transaction as the effect. A retry with the same request
replays it; the same key on another request is refused (409 ``idempotency_conflict``). A
concurrent twin waits on the row's primary key until the first commits, finds the key taken,
rolls its own work back and replays the first answer. Answers are kept a day, as payment APIs
do (``forget_old_answers``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable

from flask import request
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from .db import Database, UnitOfWork
from .problems import Problem, error_body

#: (HTTP status, JSON body)
Answer = tuple[int, dict]

HEADER = "Idempotency-Key"


def idempotency_table(metadata: MetaData) -> Table:
    """Add the service's ``idempotency_keys`` table to its metadata (its own schema)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("user_id", UUID(as_uuid=True), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("body", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def _table(db: Database) -> Table:
    return db.tables[f"{db.schema}.idempotency_keys"]


#: Control characters (C0, DEL, C1): none belongs in a key.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def request_key() -> str | None:
    """The request's ``Idempotency-Key`` (1 to 200 characters, none of them a control
    character), or None without one. (A NUL, which PostgreSQL refuses in text, was a 500.)"""
    key = request.headers.get(HEADER)
    if key is not None and (not 1 <= len(key) <= 200 or _CONTROL.search(key)):
        raise Problem(422, "validation_error",
                      f"{HEADER} must be 1 to 200 characters, none of them a control character.",
                      [{"field": HEADER,
                        "message": "1 to 200 characters, none of them a control character"}])
    return key


def fingerprint(*parts) -> str:
    """What a request asked, to tell a retry (same) from a key reused for another request."""
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()


def conflict() -> Answer:
    return 409, error_body("idempotency_conflict",
                           f"This {HEADER} was already used for a different request.")


def replay(db: Database, user_id: str, key: str, request_fingerprint: str) -> Answer | None:
    """The stored answer to ``(user, key)`` (or a conflict if it answered another request);
    None when the key is new."""
    table = _table(db)
    with db.unit_of_work() as uow:
        stored = uow.session.execute(
            select(table.c.fingerprint, table.c.status_code, table.c.body)
            .where(table.c.user_id == uuid.UUID(user_id), table.c.key == key)).first()
    if stored is None:
        return None
    if stored.fingerprint != request_fingerprint:
        return conflict()
    return stored.status_code, stored.body


def store(db: Database, session: Session, user_id: str, key: str, request_fingerprint: str,
          answer: Answer) -> bool:
    """Remember an answer in the caller's transaction; False when a concurrent twin stored
    first (the caller then rolls back and replays)."""
    table = _table(db)
    statement = (pg_insert(table)
                 .values(user_id=uuid.UUID(user_id), key=key, fingerprint=request_fingerprint,
                         status_code=answer[0], body=answer[1])
                 .on_conflict_do_nothing().returning(table.c.key))
    return session.execute(statement).first() is not None


def run_once(db: Database, user_id: str, key: str | None, request_fingerprint: str,
             decide: Callable[[UnitOfWork], tuple[Answer, bool]]) -> Answer:
    """Run ``decide`` in one unit of work; with a key, store its answer in the same transaction
    and replay it on every retry. ``decide`` returns (answer, storable): an answer that may
    change with time (a thing not known yet) is not stored. A ``decide`` that raises stores
    nothing and commits nothing."""
    if key:
        earlier = replay(db, user_id, key, request_fingerprint)
        if earlier is not None:
            return earlier
    with db.unit_of_work() as uow:
        answer, storable = decide(uow)
        if key and storable and not store(db, uow.session, user_id, key, request_fingerprint,
                                          answer):
            uow.session.rollback()
            return replay(db, user_id, key, request_fingerprint) or conflict()
        uow.commit()
        return answer


def forget_old_answers(db: Database, hours: int = 24) -> int:
    """Drop answers older than ``hours`` (a retry after that is a new request); how many."""
    table = _table(db)
    with db.unit_of_work() as uow:
        removed = uow.session.execute(delete(table).where(
            table.c.created_at < func.now() - func.make_interval(0, 0, 0, 0, hours))).rowcount
        uow.commit()
    return removed
