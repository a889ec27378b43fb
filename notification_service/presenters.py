"""How notification_service's stored things look from outside (the JSON its API answers)."""

from __future__ import annotations

from auction_common.events import isoformat

from .models import Notification
from .preferences import KINDS


def notification_view(n: Notification) -> dict:
    """An in-app notification as ``GET /api/notifications`` lists it."""
    return {"id": str(n.id), "kind": n.kind, "title": n.title, "body": n.body, "data": n.data,
            "created_at": isoformat(n.created_at), "read_at": isoformat(n.read_at)}


def subscription_view(kind: str, preferences: dict[str, bool]) -> dict:
    """One kind of email, what it is about and whether it still comes (the unsubscribe page)."""
    return {"kind": kind, "description": KINDS[kind], "email": preferences[kind]}
