"""Suspended accounts are refused by every service, within seconds of the suspension.

user_service owns accounts; an access token stays valid for its lifetime (15 minutes), so each
service keeps a replica of each account's status, fed by ``user.registered`` / ``user.updated``,
and refuses a suspended account's token (``403 user_suspended``) on every request that carries
one. Plumbing only: the table, the version-aware upsert, the request hook; each service decides
where its replica lives (its own schema) and consumes the events with its own consumer.

``user.updated`` carries a snapshot; when it has ``data.version`` (the account row's counter),
an older snapshot arriving late never overwrites a newer one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from flask import Flask, request
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import UUID, insert

from .consumer import IdempotentConsumer
from .db import Database, UnitOfWork
from .problems import Problem


def account_status_table(metadata: MetaData) -> Table:
    """Add the ``account_statuses`` replica (user id, status, version) to a service's schema."""
    return Table(
        "account_statuses",
        metadata,
        Column("user_id", UUID(as_uuid=True), primary_key=True),
        Column("status", String(20), nullable=False),
        Column("version", BigInteger, nullable=False, server_default="0"),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def event_version(data: dict) -> int:
    """The snapshot's version (``data.version``), 0 when the event has none."""
    version = data.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def remember_account_status(uow: UnitOfWork, table: Table, event: dict) -> None:
    """``user.registered`` / ``user.updated``: keep the account's status. A registration only
    fills a gap; an update replaces what is stored unless the stored version is newer."""
    data = event["data"]
    version = event_version(data)
    values = {"status": data.get("status", "active"), "version": version,
              "updated_at": func.now()}
    statement = insert(table).values(user_id=uuid.UUID(data["user_id"]), **values)
    if event["type"] == "user.registered":
        statement = statement.on_conflict_do_nothing()
    else:
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.user_id], set_=values,
            where=table.c.version <= statement.excluded.version)
    uow.session.execute(statement)


def account_status_consumer(db: Database, service: str, table: Table) -> IdempotentConsumer:
    """The consumer keeping ``table`` (see :func:`account_status_table`) from user events."""

    def remember(uow: UnitOfWork, event: dict) -> None:
        remember_account_status(uow, table, event)

    return IdempotentConsumer(db, f"{service}.accounts",
                              {"user.registered": remember, "user.updated": remember})


#: How long a process trusts the status it last read of an account: a suspension reaches
#: every request within this (plus the event's way from user_service).
STATUS_CACHE_SECONDS = 2.0


def status_lookup(db: Database, key_column, status_column,
                  cache_seconds: float = STATUS_CACHE_SECONDS) -> Callable[[str], str | None]:
    """A function answering an account's replicated status (None when unknown), reading
    ``status_column`` where ``key_column`` is the user id; an active account's status is
    remembered ``cache_seconds`` (a suspended one is read again each time)."""
    cache: dict[str, tuple[float, str | None]] = {}
    lock = threading.Lock()

    def status_of(user_id: str) -> str | None:
        now = time.monotonic()
        with lock:
            cached = cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        with db.engine.connect() as connection:
            status = connection.execute(
                select(status_column).where(key_column == uuid.UUID(user_id))).scalar()
        if status != "suspended":  # a restored account is let in again at once
            with lock:
                if len(cache) >= 10_000:
                    cache.clear()
                cache[user_id] = (now + cache_seconds, status)
        return status

    return status_of


class AccountStatuses:
    """The same replica in memory, for a process without a database (real-time fan-out)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, str]] = {}

    def apply(self, event: dict) -> str | None:
        """Apply a user event; the account's status after it (None when ignored as stale)."""
        data = event["data"]
        user_id, version = str(data["user_id"]), event_version(data)
        status = data.get("status", "active")
        with self._lock:
            known = self._known.get(user_id)
            if known is not None and (event["type"] == "user.registered" or known[0] > version):
                return None
            self._known[user_id] = (version, status)
        return status

    def status_of(self, user_id: str) -> str | None:
        """The account's status as last heard (None when never heard of)."""
        with self._lock:
            known = self._known.get(user_id)
        return known[1] if known else None


def checks_standing_itself(view: Callable) -> Callable:
    """Mark a view that refuses a suspended account itself, reading the status in its own
    transaction (the bid and Buy-It-Now paths, under the auction's row lock): the check before
    the view, a query of its own on every request, is skipped for it."""
    view.checks_standing_itself = True
    return view


def refuse_suspended_accounts(app: Flask, status_of: Callable[[str], str | None]) -> None:
    """Answer ``403 user_suspended`` to any request whose valid access token names a suspended
    account, before the view runs. Requests without a token, or with one the view will refuse
    anyway, pass on untouched."""

    @app.before_request
    def _refuse_suspended():
        if not request.headers.get("Authorization"):
            return None
        if getattr(app.view_functions.get(request.endpoint), "checks_standing_itself", False):
            return None
        try:
            verify_jwt_in_request(optional=True)
            user_id = get_jwt_identity()
        except Exception:  # the view answers 401 for it, as it always did
            return None
        if user_id and status_of(str(user_id)) == "suspended":
            raise Problem(403, "user_suspended", "This account is suspended.")
        return None
