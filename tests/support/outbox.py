"""Reading what a service wrote to its outbox, as the tests check it."""

from __future__ import annotations

from sqlalchemy import text

from auction_common.db import Database
from auction_common.events import EventSchemas


def events_about(db: Database, field: str, value: str, event_type: str | None = None,
                 schemas: EventSchemas | None = None) -> list[dict]:
    """The events in the service's outbox whose ``data.<field>`` is ``value`` (one auction, one
    user…), oldest first: of one type if given; each checked against ``schemas`` if given.

    Scoped to one thing because the database is shared by every test of the run."""
    with db.engine.connect() as conn:
        found = conn.execute(text(
            f'SELECT payload FROM "{db.schema}".outbox '
            "WHERE payload->'data'->>CAST(:f AS text) = :v "
            "AND (CAST(:t AS text) IS NULL OR type = :t) ORDER BY position"),
            {"f": field, "v": value, "t": event_type}).scalars().all()
    for event in found if schemas else ():
        schemas.validate(event)
    return list(found)


def outbox_events(db: Database, auction_id: str, event_type: str | None = None,
                  schemas: EventSchemas | None = None) -> list[dict]:
    """The events of one auction in the service's outbox, oldest first (see
    :func:`events_about`)."""
    return events_about(db, "auction_id", auction_id, event_type, schemas)
