"""Reading what a service wrote to its outbox, as the tests check it."""

from __future__ import annotations

from sqlalchemy import text

from auction_common.db import Database
from auction_common.events import EventSchemas


def outbox_events(db: Database, auction_id: str, event_type: str | None = None,
                  schemas: EventSchemas | None = None) -> list[dict]:
    """The events of one auction in the service's outbox, oldest first (of one type if given;
    each checked against ``schemas`` if given)."""
    with db.engine.connect() as conn:
        found = conn.execute(text(
            f'SELECT payload FROM "{db.schema}".outbox '
            "WHERE payload->'data'->>'auction_id' = :a "
            "AND (CAST(:t AS text) IS NULL OR type = :t) ORDER BY position"),
            {"a": auction_id, "t": event_type}).scalars().all()
    for event in found if schemas else ():
        schemas.validate(event)
    return list(found)
