"""Database plumbing: engines, the outbox and inbox tables, and the unit of work.

A service's state change and the events it causes are committed in one transaction (the
outbox); a consumer's effect and the id of the event that caused it are committed in one
transaction too (the inbox), which makes redelivery harmless.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from psycopg2.extras import NamedTupleCursor
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    TextClause,
    create_engine,
    event,
    func,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Session

from .events import EventSchemas, make_envelope

log = logging.getLogger(__name__)
T = TypeVar("T")


#: A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 0.5


def create_db_engine(url: str, pool_size: int = 10, application_name: str = "auction") -> Engine:
    """An engine with a pool sized for the process, checking a connection that has been idle
    a while before handing it out (one the server dropped, e.g. across a restart, is replaced
    before anyone uses it) and giving up on an unreachable server after a few seconds instead
    of hanging.

    Not SQLAlchemy's ``pool_pre_ping``, which pings on every checkout: under load that was one
    round trip more per transaction (a sixth of a bid's), to learn what the first statement
    learns anyway. A restart closes every connection, and takes longer than
    ``PING_AFTER_IDLE_SECONDS``: a connection that was idle across one is pinged. A connection
    lost while in use fails its statement, and that failure invalidates every connection the
    pool had opened before it (SQLAlchemy's disconnect handling)."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        connect_args={"application_name": application_name, "connect_timeout": 5},
    )
    event.listen(engine, "checkin", _remember_checkin)
    event.listen(engine, "checkout", _pinging_if_idle(engine))
    return engine


def _remember_checkin(dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _pinging_if_idle(engine: Engine):
    """A checkout hook pinging (one round trip, as ``pool_pre_ping`` does) a connection back
    from the pool after ``PING_AFTER_IDLE_SECONDS`` or more; a dead one makes the pool open
    another (``DisconnectionError``: it retries the checkout)."""

    def ping_if_idle(dbapi_connection, record, proxy) -> None:
        checked_in = record.info.get("checked_in_at")
        if checked_in is None or time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.DisconnectionError("connection dropped while pooled") from exc
        if not alive:
            raise sa_exc.DisconnectionError("connection dropped while pooled")

    return ping_if_idle


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database could not serve us right now (down, restarting,
    the connection dropped, the pool exhausted), not that the request was wrong: worth a
    retry on a fresh connection, and a 503 if that fails too."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection in time
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    return False


def retry_when_unavailable(action: Callable[[], T],
                           delays: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)) -> T:
    """Run ``action`` (something safe to repeat, such as a read in its own transaction), again
    on a fresh connection each time the database was unavailable, after each of ``delays``;
    re-raise the last error once they are spent (about two seconds: a restart's length)."""
    for delay in delays:
        try:
            return action()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("database unavailable; retrying", extra={"error": type(exc).__name__})
        time.sleep(delay)
    return action()


def messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Add the service's ``outbox`` and ``inbox`` tables to its metadata (its own schema)."""
    outbox = Table(
        "outbox",
        metadata,
        Column("position", BigInteger, primary_key=True, autoincrement=True),
        Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index(
            "ix_outbox_unpublished",
            "position",
            postgresql_where=text("published_at IS NULL"),
        ),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return outbox, inbox


@functools.lru_cache(maxsize=512)
def sql_text(statement: str) -> TextClause:
    """``text(statement)``, made once per distinct statement: parsing a statement's bind
    parameters (a regular expression over the whole text) cost ~0.1 ms per statement, and
    the hot paths send the same few statements over and over."""
    return text(statement)


#: A bind parameter in ``text()``'s syntax (``:name``, not ``::type``), as SQLAlchemy reads it.
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_CAST = re.compile(r"CAST\(\s*:(\w+)\s+AS\s+([\w\[\] ]+?)\s*\)", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _preparation(statement: str) -> tuple[str, str, str]:
    """(name, ``PREPARE``, ``EXECUTE`` with the same parameters in the driver's own
    ``%(name)s`` style) of a statement written with ``text()``'s ``:name`` parameters."""
    names = list(dict.fromkeys(_BIND.findall(statement)))
    name = "p_" + hashlib.sha1(statement.encode()).hexdigest()[:24]
    body = _BIND.sub(lambda match: f"${names.index(match.group(1)) + 1}", statement)
    # A parameter the statement casts takes that type when prepared; the argument is cast
    # the same way, since psycopg2 sends some values typed (a list as text[], not uuid[]).
    casts = {n: t for n, t in _CAST.findall(statement)}
    arguments = ", ".join(f"CAST(%({n})s AS {casts[n]})" if n in casts else f"%({n})s"
                          for n in names)
    return (name, f"PREPARE {name} AS {body}",
            f"EXECUTE {name}({arguments})" if names else f"EXECUTE {name}")


def _prepare_once(pooled, statement: str, run: Callable[[str], object]) -> str:
    """The ``EXECUTE`` of ``statement`` (in the driver's parameters), PREPAREd first (by
    ``run``) on the pooled connection ``pooled`` unless it already was: PostgreSQL then parses
    and plans it once per connection instead of on every call (for a bid's two statements,
    ~0.25 ms of the database's CPU per bid, more than their execution). It is prepared in a
    statement of its own, before it is first used; a connection replaced (a restart, an
    invalidation) starts with none."""
    name, prepare, driver_execute = _preparation(statement)
    known = pooled.info.setdefault("prepared_statements", set())
    if name not in known:
        run(prepare)
        known.add(name)
    return driver_execute


def run_prepared(session: Session, statements: Sequence[str], params: Mapping[str, Any],
                 then: str | None = None):
    """Run ``statements`` (each written with ``:name`` parameters, like ``text()``, and
    PREPAREd on the connection the first time it runs them) in one message, followed by
    ``then`` if given (e.g. ``COMMIT``); returns the last statement's result.

    Through the connection's ``exec_driver_sql``: SQLAlchemy still wraps the driver's errors
    and replaces a broken connection, but neither the ORM session's execution nor a
    ``text()`` construct's takes part: the bid's transaction 0.85× the CPU per bid (IQR
    0.84–0.87), 1.08× the bids a second, paired against ``session.execute(text(...))``
    (bench/results/bid_transaction_driver_sql.md)."""
    connection = session.connection()
    # Prepared through SQLAlchemy, not the driver's cursor: a database going away there must
    # raise SQLAlchemy's error (a 503 and a fresh connection), not psycopg2's own (a 500).
    sql = ";\n".join([*(_prepare_once(connection.connection, statement,
                                       connection.exec_driver_sql)
                         for statement in statements),
                      *([then] if then else [])])
    return connection.exec_driver_sql(sql, dict(params))


def execute_prepared(raw, execute: Callable[..., object], statements: Sequence[str],
                     params: Mapping[str, Any], first: str | None = None,
                     then: str | None = None) -> None:
    """:func:`run_prepared` for the driver's cursor on the pooled connection ``raw`` (from
    :meth:`Database.autocommit_connection`), ``execute`` being that cursor's ``execute`` (or
    one that wraps it): ``statements`` PREPAREd on that connection the first time, then
    EXECUTEd in one message between ``first`` (e.g. ``BEGIN``) and ``then`` (e.g.
    ``COMMIT``); the cursor holds the last statement's rows. For a path that runs the same
    few statements many times, where a session's machinery costs more than the statements
    (the bid's transaction, the email job)."""
    executes = [_prepare_once(raw, statement, execute) for statement in statements]
    execute(";\n".join([*([first] if first else []), *executes, *([then] if then else [])]),
            dict(params))


def planner_settings_sql(settings: Mapping[str, str]) -> str:
    """One statement setting PostgreSQL planner options for the current transaction only
    (``set_config(..., true)``), for a query whose best plan the planner's statistics hide
    from it. ``settings`` are the code's own constants, never user input."""
    return "SELECT " + ", ".join(f"set_config('{name}', '{value}', true)"
                                 for name, value in settings.items())


def plan_this_transaction(session: Session, settings: Mapping[str, str]) -> None:
    """Apply :func:`planner_settings_sql` on ``session``'s transaction (nothing if empty)."""
    if settings:
        session.execute(sql_text(planner_settings_sql(settings)))


def notify_channel(schema: str) -> str:
    """The NOTIFY channel that wakes a service's outbox relay."""
    return f"outbox_{schema}"


class Database:
    """A service's engine plus what its units of work need (tables, producer name, schemas)."""

    def __init__(
        self,
        engine: Engine,
        metadata: MetaData,
        producer: str,
        schemas: EventSchemas | None = None,
    ):
        self.engine = engine
        self.schema = metadata.schema
        self.tables = metadata.tables
        self.outbox = metadata.tables[f"{metadata.schema}.outbox"]
        self.inbox = metadata.tables[f"{metadata.schema}.inbox"]
        self.producer = producer
        self.schemas = schemas

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work; use it as a context manager and call ``commit()``."""
        return UnitOfWork(self)

    def pipelined_unit_of_work(self) -> PipelinedUnitOfWork:
        """A unit of work in the fewest round trips, for a hot path (see the class)."""
        return PipelinedUnitOfWork(self)

    @contextmanager
    def autocommit_connection(self) -> Iterator[Any]:
        """A pooled connection (SQLAlchemy's proxy: ``driver_connection`` is psycopg2's, with
        psycopg2's autocommit flag set, so that the statements bring their own BEGIN and
        COMMIT), given back as it was found, or discarded unless idle (a transaction left
        open, a connection lost)."""
        raw = self.engine.raw_connection()
        connection = raw.driver_connection
        try:
            connection.autocommit = True
            yield raw
        finally:
            if connection.closed or connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
                raw.invalidate()
            else:
                connection.autocommit = False
            raw.close()

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


class UnitOfWork:
    """One transaction: ORM/Core work through ``session``, events through ``publish``."""

    def __init__(self, db: Database):
        self.db = db
        self.session: Session | None = None
        self.events: list[dict[str, Any]] = []
        #: A last write to send with the commit (see :meth:`write_events_and_commit_with`).
        self._final: tuple[str, dict[str, Any]] | None = None

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self.db.engine, expire_on_commit=False)
        return self

    def __exit__(self, *exc_info) -> None:
        assert self.session is not None
        self.session.rollback()
        self.session.close()

    def rollback(self) -> None:
        """Undo everything done so far (the unit of work can go on with a new transaction)."""
        assert self.session is not None
        self.session.rollback()
        self.events = []

    def run_prepared(self, statements: Sequence[str], params: Mapping[str, Any],
                     then: str | None = None) -> Sequence[Any]:
        """:func:`run_prepared` in this unit of work's transaction: the rows of the last
        statement (each with its columns as attributes; none for a statement without rows)."""
        assert self.session is not None
        result = run_prepared(self.session, statements, params, then)
        return result.all() if result.returns_rows else []

    def publish(self, event_type: str, data: dict[str, Any], version: int = 1) -> dict[str, Any]:
        """Record an event to be written to the outbox when this unit of work commits."""
        envelope = make_envelope(event_type, data, producer=self.db.producer, version=version)
        if self.db.schemas is not None:
            self.db.schemas.validate(envelope)
        self.events.append(envelope)
        return envelope

    def claim_event(self, consumer: str, event_id: str) -> bool:
        """Record that ``consumer`` applies ``event_id`` now; False when it already has."""
        return bool(self.claim_events(consumer, [event_id]))

    def claim_events(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Record that ``consumer`` applies these events now, in one statement; returns the
        ids it had not applied before."""
        assert self.session is not None
        if not event_ids:
            return set()
        # One prepared statement whatever the number of events (a multi-row VALUES was a new
        # statement for each length, compiled by SQLAlchemy and planned by PostgreSQL each
        # time: a third of the read model's consumer CPU).
        rows = self.run_prepared([
            f"""INSERT INTO "{self.db.schema}".inbox (consumer, event_id)
                SELECT :consumer, e FROM unnest(CAST(:event_ids AS uuid[])) AS e
                ON CONFLICT DO NOTHING RETURNING event_id"""],
            {"consumer": consumer,
             "event_ids": list(dict.fromkeys(str(uuid.UUID(str(event_id)))
                                             for event_id in event_ids))})
        return {str(event_id) for (event_id,) in rows}

    def write_events_with(self, statement: str, params: dict[str, Any]):
        """Write the pending events to the outbox and run the caller's ``statement`` in ONE
        round trip (psycopg2 sends several statements at once); returns the statement's
        rows (as :meth:`run_prepared`). For a caller holding a hot lock, where every round trip
        counts."""
        if not self.events:
            return self.run_prepared([statement], params)
        outbox, outbox_params = self._outbox_statement()
        rows = self.run_prepared([outbox, statement], {**outbox_params, **params})
        self.events = []
        return rows

    def write_events_and_commit_with(self, statement: str, params: dict[str, Any]) -> None:
        """:meth:`write_events_with` (its result unread), then :meth:`commit`. Here in two
        round trips; in one with a :class:`PipelinedUnitOfWork`. If it raises, the commit may
        or may not have happened."""
        self._final = (statement, params)
        self.commit()

    def _outbox_statement(self) -> tuple[str, dict[str, Any]]:
        """Insert the pending events in order and wake the relay (NOTIFY is delivered only when
        the transaction commits)."""
        return (f"""WITH written AS (
                    INSERT INTO "{self.db.schema}".outbox (id, type, payload)
                    SELECT CAST(e->>'id' AS uuid), e->>'type', e
                    FROM jsonb_array_elements(CAST(:outbox_events AS jsonb))
                         WITH ORDINALITY AS events(e, n)
                    ORDER BY n
                    RETURNING 1)
                SELECT pg_notify(:outbox_channel, '')
                FROM (SELECT count(*) FROM written) AS done""",
                {"outbox_events": json.dumps(self.events),
                 "outbox_channel": notify_channel(self.db.schema)})

    def commit(self) -> None:
        """Write pending events to the outbox and wake the relay in one statement, then commit
        everything at once."""
        final, self._final = self._final, None
        self._send_commit(final)
        self.events = []

    def _send_commit(self, final: tuple[str, dict[str, Any]] | None) -> None:
        assert self.session is not None
        if final is not None:
            self.write_events_with(*final)
        elif self.events:
            statement, params = self._outbox_statement()
            self.run_prepared([statement], params)
        self.session.commit()


class PipelinedUnitOfWork(UnitOfWork):
    """A unit of work in the fewest round trips and the least client CPU, for a path that
    holds a hot lock (the bid's): its transaction opens with its first statement and can close
    with its last write, on the driver's own cursor, without an ORM session.

    psycopg2 opens every transaction with a BEGIN of its own, a round trip before the first
    statement. Here the connection is in autocommit mode and the unit of work sends BEGIN in
    front of its first statement, and COMMIT behind the outbox's write (:meth:`commit`) or the
    caller's last one (:meth:`write_events_and_commit_with`), in the same message: several
    statements in one message run in order and stop at the first error, so nothing after a
    failed statement runs, the COMMIT included. What was not committed is rolled back on the
    way out; a connection that cannot be given back idle is discarded.

    Statements go through :meth:`run_prepared` (prepared once per connection) straight to the
    driver's cursor: SQLAlchemy's execution and result machinery cost more client CPU than
    the statements themselves (a third of a lone bid's in the web process). Its error handling
    is kept: the driver's errors are raised as SQLAlchemy's (``DBAPIError``, with
    ``connection_invalidated`` when the connection was lost, what :func:`is_unavailable`
    reads), a lost connection is discarded, and the pool's idle connections with it (the
    server is likely to have dropped them too: a restart). ``session`` is None."""

    _raw = None  # the pooled connection, once checked out
    _cursor = None

    def __enter__(self) -> PipelinedUnitOfWork:
        self._pooled = self.db.autocommit_connection()
        try:
            self._raw = self._pooled.__enter__()
        except self.db.engine.dialect.loaded_dbapi.Error as error:  # e.g. cannot connect
            raise self._wrapped(error, None, None) from error
        self._cursor = self._raw.driver_connection.cursor(cursor_factory=NamedTupleCursor)
        #: Whether BEGIN went out and no COMMIT or ROLLBACK after it (a transaction may be open).
        self._open = False
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self._open:
                self._cursor.execute("ROLLBACK")
        except Exception:  # lost: the connection is discarded below (it is not idle)
            pass
        finally:
            self._open = False
            self._pooled.__exit__(None, None, None)

    def run_prepared(self, statements: Sequence[str], params: Mapping[str, Any],
                     then: str | None = None) -> Sequence[Any]:
        """The statements (PREPAREd on the connection the first time, each in a message of
        its own, outside the transaction) in one message, after BEGIN if no transaction is
        open, followed by ``then`` (e.g. ``COMMIT``); the rows of the last one, as named
        tuples."""
        begin = None if self._open else "BEGIN"
        self._open = True  # from here on, whatever happens: ROLLBACK on the way out
        execute_prepared(self._raw, self._execute, statements, params, first=begin, then=then)
        if then == "COMMIT":
            self._open = False
        return self._cursor.fetchall() if self._cursor.description else []

    def _execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._cursor.execute(sql, params)
        except self.db.engine.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(error, sql, params) from error

    def _wrapped(self, error: Exception, sql: str | None, params) -> sa_exc.DBAPIError:
        """The driver's ``error`` as SQLAlchemy raises it; when it means the server is gone,
        the pool's idle connections are closed too (a checkout opens new ones)."""
        engine = self.db.engine
        lost = engine.dialect.is_disconnect(
            error, self._raw.driver_connection if self._raw is not None else None, self._cursor)
        if lost:
            engine.pool.dispose()
        return sa_exc.DBAPIError.instance(
            sql, params, error, engine.dialect.loaded_dbapi.Error,
            hide_parameters=engine.hide_parameters, connection_invalidated=lost,
            dialect=engine.dialect)

    def rollback(self) -> None:
        """Roll back what was done so far; the next statement opens a new transaction."""
        if self._open:
            self._execute("ROLLBACK")
            self._open = False
        self.events = []

    def _send_commit(self, final: tuple[str, dict[str, Any]] | None) -> None:
        """The outbox's write, the caller's last one (``final``) and COMMIT in one message."""
        statements, params = [], {}
        if self.events:
            outbox, params = self._outbox_statement()
            statements.append(outbox)
        if final is not None:
            statements.append(final[0])
            params = {**params, **final[1]}
        if statements:
            self.run_prepared(statements, params, then="COMMIT")
        elif self._open:
            self._execute("COMMIT")
            self._open = False
