"""The real-time process type: Socket.IO rooms fed by bid events from the bus.

Each instance consumes on its own private queue and emits to its own clients, so running more
instances (behind a sticky gateway) scales the fan-out. Rooms: ``auction:<id>`` for everyone
watching, ``user:<id>`` for private news (outbid, notifications). Anonymous clients may watch;
only an authenticated socket joins its user room.
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, request
from flask_jwt_extended import decode_token
from flask_socketio import SocketIO, join_room, leave_room

from auction_common.bus import Subscription
from auction_common.events import isoformat, utcnow

log = logging.getLogger(__name__)

#: Event type on the bus -> (Socket.IO event name, room kind, id field of the room).
ROUTES = {
    "bid.placed": ("bid.placed", "auction", "auction_id"),
    "auction.extended": ("auction.extended", "auction", "auction_id"),
    "auction.ended": ("auction.ended", "auction", "auction_id"),
    "bid.outbid": ("bid.outbid", "user", "user_id"),
    "notification.created": ("notification", "user", "user_id"),
}
BID_PLACED_FIELDS = ("auction_id", "seq", "current_price", "currency", "bid_count", "leader_id",
                     "leader_name",
                     "min_next_bid", "reserve_met", "ends_at", "placed_at")
#: Who bid on an auction is private: these never leave for its (public) room.
PRIVATE_FIELDS = {"auction.ended": ("bidder_ids", "high_bidder_id")}


def _token_from(auth) -> str | None:
    if isinstance(auth, dict) and auth.get("token"):
        return str(auth["token"])
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):]
    return request.cookies.get("access_token")


def attach_realtime(app: Flask, async_mode: str | None = None) -> SocketIO:
    """Add Socket.IO to ``app`` (which must verify JWTs: see ``init_jwt``)."""
    socketio = SocketIO(app, async_mode=async_mode, logger=False, engineio_logger=False,
                        ping_interval=20, ping_timeout=20)

    @socketio.on("connect")
    def connect(auth=None):
        token = _token_from(auth)
        if not token:
            return True
        try:
            claims = decode_token(token)
        except Exception:
            if isinstance(auth, dict) and auth.get("token"):
                raise ConnectionRefusedError("invalid_token") from None
            return True  # a stale cookie: watch anonymously
        join_room(f"user:{claims['sub']}")
        return True

    @socketio.on("watch")
    def watch(data):
        try:
            auction_id = uuid.UUID(str((data or {}).get("auction_id")))
        except ValueError:
            return {"ok": False, "error": "auction_id must be a UUID"}
        join_room(f"auction:{auction_id}")
        return {"ok": True, "server_time": isoformat(utcnow())}

    @socketio.on("unwatch")
    def unwatch(data):
        try:
            leave_room(f"auction:{uuid.UUID(str((data or {}).get('auction_id')))}")
        except ValueError:
            return {"ok": False}
        return {"ok": True}

    return socketio


def fan_out(socketio: SocketIO, envelope: dict) -> None:
    """Emit one bus event to the room it concerns, stamped with the server's time."""
    route = ROUTES.get(envelope["type"])
    if route is None:
        return
    name, room_kind, id_field = route
    data = envelope["data"]
    if envelope["type"] == "bid.placed":
        payload = {field: data.get(field) for field in BID_PLACED_FIELDS}
    else:
        payload = dict(data)
        for field in PRIVATE_FIELDS.get(envelope["type"], ()):
            payload.pop(field, None)
    payload["server_time"] = isoformat(utcnow())
    socketio.emit(name, payload, to=f"{room_kind}:{data[id_field]}")


def realtime_subscription(socketio: SocketIO) -> Subscription:
    """This instance's private queue of every event it fans out."""
    return Subscription(
        queue="bidding_service.realtime", routing_keys=sorted(ROUTES),
        handler=lambda envelope: fan_out(socketio, envelope), transient=True,
    )
