"""The event envelope and the JSON Schemas that every event type must satisfy."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs

ENVELOPE_SCHEMA = json.loads((Path(__file__).parent / "envelope.schema.json").read_text())


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, the platform's one way of writing a time."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_envelope(event_type: str, data: dict[str, Any], producer: str, version: int = 1) -> dict:
    """Wrap ``data`` in the envelope ``{id, type, version, occurred_at, producer, data}``."""
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "version": version,
        "occurred_at": isoformat(utcnow()),
        "producer": producer,
        "data": data,
    }


class EventSchemaError(ValueError):
    """An event does not match the schema of its type."""


class EventSchemas:
    """The JSON Schemas of event types, loaded from ``<type>.v<version>.json`` files.

    Validated with jsonschema-rs (Draft 2020-12, formats checked): a producer validates its
    events inside the transaction that holds a hot auction's lock, where the pure-Python
    validator cost a tenth of a millisecond per event and this one a microsecond."""

    def __init__(self, *directories: Path):
        self._validators: dict[tuple[str, int], jsonschema_rs.Validator] = {}
        for directory in directories:
            for path in sorted(Path(directory).glob("*.v*.json")):
                event_type, _, version = path.name[: -len(".json")].rpartition(".v")
                schema = json.loads(path.read_text())
                jsonschema_rs.meta.validate(schema)
                self._validators[(event_type, int(version))] = jsonschema_rs.validator_for(
                    schema, validate_formats=True
                )
        self._envelope = jsonschema_rs.validator_for(ENVELOPE_SCHEMA, validate_formats=True)

    @property
    def types(self) -> set[str]:
        """Event types with a schema."""
        return {event_type for event_type, _ in self._validators}

    def validate(self, envelope: dict[str, Any]) -> None:
        """Raise :class:`EventSchemaError` unless the envelope and its data match their schemas."""
        errors = list(self._envelope.iter_errors(envelope))
        validator = self._validators.get((envelope.get("type"), envelope.get("version")))
        if validator is None:
            raise EventSchemaError(
                f"no schema for event {envelope.get('type')} v{envelope.get('version')}"
            )
        errors += list(validator.iter_errors(envelope["data"]))
        if errors:
            raise EventSchemaError(
                f"{envelope.get('type')}: " + "; ".join(e.message for e in errors[:5])
            )
