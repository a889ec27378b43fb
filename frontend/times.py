"""Instants in UTC: reading the API's ISO 8601 strings, writing them, saying how long is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from markupsafe import Markup


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


def _span(seconds: int) -> str:
    """``"2 d 4 h"``, ``"3 h 05 min"``, ``"4 min 05 s"``, ``"12 s"``: a length of time, the
    two largest units (the page's script says it the same way)."""
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def time_left(ends_at: datetime | str | None, now: datetime | None = None) -> str:
    """``"2 d 4 h"``, ``"3 h 12 min"``, ``"4 min 05 s"``, ``"ended"``: how long is left."""
    end = parse_instant(ends_at) if isinstance(ends_at, str) else ends_at
    if end is None:
        return "—"
    remaining = end - (now or utcnow())
    if remaining <= timedelta(0):
        return "ended"
    return _span(int(remaining.total_seconds()))


def relative(instant: datetime | str | None, now: datetime | None = None) -> str:
    """``"in 3 h 12 min"`` or ``"5 min 02 s ago"``: an instant relative to now."""
    value = parse_instant(instant) if isinstance(instant, str) else instant
    if value is None:
        return ""
    seconds = int((value - (now or utcnow())).total_seconds())
    if abs(seconds) < 1:
        return "now"
    return f"in {_span(seconds)}" if seconds > 0 else f"{_span(-seconds)} ago"


def local_label(instant: datetime | str | None) -> str:
    """``"31 Jan 2025, 12:00 UTC"``: an absolute time for people, its zone named (the page's
    script shows it in the browser's zone)."""
    value = parse_instant(instant) if isinstance(instant, str) else instant
    if value is None:
        return "—"
    return value.strftime("%d %b %Y, %H:%M UTC")


def when(instant: datetime | str | None, now: datetime | None = None) -> str:
    """``"in 3 h 12 min · 31 Jan 2025, 12:00 UTC"``: the one way the pages say a time,
    relative and absolute (the page's script redoes it in the browser's zone)."""
    value = parse_instant(instant) if isinstance(instant, str) else instant
    if value is None:
        return "—"
    return f"{relative(value, now)} · {local_label(value)}"


def time_tag(instant: datetime | str | None, element_id: str | None = None) -> Markup:
    """``<time datetime="…" data-when>in 3 h 12 min · 31 Jan 2025, 12:00 UTC</time>``: a time
    as the pages show it; the page's script keeps the relative part current and says the
    absolute part in the browser's zone."""
    value = parse_instant(instant) if isinstance(instant, str) else instant
    if value is None:
        return Markup("—")
    attributes = Markup(' id="{}"').format(element_id) if element_id else Markup("")
    return Markup('<time{} datetime="{}" data-when>{}</time>').format(
        attributes, iso_utc(value), when(value))
