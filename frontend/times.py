"""Instants in UTC: reading the API's ISO 8601 strings, writing them, saying how long is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def parse_instant(value: str | None) -> datetime | None:
    """An ISO 8601 string from the API (``...Z`` or ``+00:00``) as an aware UTC datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_utc(instant: datetime) -> str:
    """``2025-01-31T12:00:00Z``: the form the API expects (UTC, whole seconds, ``Z``)."""
    return instant.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_left(ends_at: datetime | str | None, now: datetime | None = None) -> str:
    """``"2d 4h"``, ``"3h 12m"``, ``"4m 05s"``, ``"ended"``: a compact remaining time."""
    end = parse_instant(ends_at) if isinstance(ends_at, str) else ends_at
    if end is None:
        return "—"
    remaining = end - (now or utcnow())
    if remaining <= timedelta(0):
        return "ended"
    seconds = int(remaining.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s"


def local_label(instant: datetime | str | None) -> str:
    """``"31 Jan 2025, 12:00 UTC"``: an absolute time for people (the browser shows local time)."""
    value = parse_instant(instant) if isinstance(instant, str) else instant
    if value is None:
        return "—"
    return value.strftime("%d %b %Y, %H:%M UTC")
