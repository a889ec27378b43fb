"""A producer cannot write an event its schema forbids (auction_common.events)."""

from __future__ import annotations

import uuid

import pytest

from auction_common.events import EventSchemaError, EventSchemas, make_envelope
from bidding_service.app import EVENT_SCHEMAS

SCHEMAS = EventSchemas(EVENT_SCHEMAS)


def extended(**changes) -> dict:
    data = {"auction_id": str(uuid.uuid4()), "seq": 3, "ends_at": "2026-11-26T16:00:00Z"}
    return make_envelope("auction.extended", {**data, **changes}, producer="bidding_service")


def test_a_well_formed_event_passes():
    SCHEMAS.validate(extended())


@pytest.mark.parametrize("changes, complaint", [
    ({"auction_id": "not-a-uuid"}, "uuid"),
    ({"ends_at": "2026-11-26 16:00"}, "date-time"),
    ({"seq": "3"}, "integer"),
    ({"seq": None}, "integer"),
])
def test_a_field_of_the_wrong_kind_is_refused(changes, complaint):
    with pytest.raises(EventSchemaError, match=complaint):
        SCHEMAS.validate(extended(**changes))


def test_a_missing_field_an_unknown_type_or_a_broken_envelope_is_refused():
    event = extended()
    del event["data"]["seq"]
    with pytest.raises(EventSchemaError, match="seq"):
        SCHEMAS.validate(event)
    with pytest.raises(EventSchemaError, match="no schema"):
        SCHEMAS.validate({**extended(), "type": "auction.exploded"})
    with pytest.raises(EventSchemaError, match="date-time"):
        SCHEMAS.validate({**extended(), "occurred_at": "yesterday"})
