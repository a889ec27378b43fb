"""The real-time process type: Socket.IO rooms fed by bid events from the bus.

Each instance consumes on its own private queue and emits to its own clients, so running more
instances (behind a sticky gateway) scales the fan-out. Rooms: ``auction:<id>`` for everyone
watching, ``user:<id>`` for private news (outbid, notifications). Anonymous clients may watch;
only an authenticated socket joins its user room.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from flask import Flask, request
from flask_jwt_extended import decode_token
from flask_socketio import SocketIO, join_room, leave_room

from auction_common.bus import Subscription
from auction_common.events import isoformat, utcnow
from auction_common.suspension import AccountStatuses
from bidding_service.realtime.broadcast import Broadcaster, broadcast, has_listeners

log = logging.getLogger(__name__)

#: Event type on the bus -> (Socket.IO event name, room kind, id field of the room).
ROUTES = {
    "bid.placed": ("bid.placed", "auction", "auction_id"),
    "auction.extended": ("auction.extended", "auction", "auction_id"),
    "auction.ended": ("auction.ended", "auction", "auction_id"),
    "bid.outbid": ("bid.outbid", "user", "user_id"),
    "notification.created": ("notification", "user", "user_id"),
    "auction.watched": ("auction.watchers", "auction", "auction_id"),
    "auction.unwatched": ("auction.watchers", "auction", "auction_id"),
}
#: user_service's events: a suspended account loses its private room (auction_common.suspension).
ACCOUNT_EVENTS = ("user.registered", "user.updated")
#: What an auction's room hears of a bid: bidders only by their masked name (the leader's id
#: stays between the services; a client learns whether it leads from its own room and state).
BID_PLACED_FIELDS = ("auction_id", "seq", "current_price", "currency", "bid_count",
                     "leader_name", "min_next_bid", "reserve_met", "buy_now_available", "ends_at",
                     "placed_at")
#: What an auction's room hears of a watch or unwatch: the count, not who.
WATCHERS_FIELDS = ("auction_id", "watchers_count", "watchers_seq")
#: Fields of the services' events never said in an auction's (public) room.
PRIVATE_FIELDS = frozenset({"leader_id", "winner_id", "seller_id", "user_id", "bidder_id",
                            "bidder_ids", "high_bidder_id"})


def _token_from(auth) -> str | None:
    if isinstance(auth, dict) and auth.get("token"):
        return str(auth["token"])
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):]
    return request.cookies.get("access_token")


class Identities:
    """Which socket acts for which user, until its token expires (then it watches on as an
    anonymous client: its user room is for the token's lifetime only)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_sid: dict[str, tuple[str, float]] = {}

    def add(self, sid: str, user_id: str, expires_at: float) -> None:
        """Socket ``sid`` acts for ``user_id`` until ``expires_at`` (a Unix time)."""
        with self._lock:
            self._by_sid[sid] = (user_id, expires_at)

    def remove(self, sid: str) -> None:
        """Forget a socket (it disconnected)."""
        with self._lock:
            self._by_sid.pop(sid, None)

    def take_expired(self, now: float) -> list[tuple[str, str]]:
        """The (sid, user id) of each socket whose token has expired by ``now``; forgotten."""
        with self._lock:
            expired = [(sid, user) for sid, (user, until) in self._by_sid.items() if until <= now]
            for sid, _ in expired:
                del self._by_sid[sid]
        return expired

    def of_user(self, user_id: str) -> list[str]:
        """The sockets acting for ``user_id``."""
        with self._lock:
            return [sid for sid, (user, _) in self._by_sid.items() if user == user_id]


def end_expired_identities(socketio: SocketIO, identities: Identities, now: float) -> int:
    """Take each socket whose token has expired out of its user room, and tell it
    (``session.expired``: reconnect with a fresh token to hear private news again)."""
    expired = identities.take_expired(now)
    for sid, user_id in expired:
        socketio.server.leave_room(sid, f"user:{user_id}", namespace="/")
        socketio.emit("session.expired", {"reason": "token_expired"}, to=sid)
    return len(expired)


def end_identities_of(socketio: SocketIO, identities: Identities, user_id: str) -> int:
    """Take every socket of ``user_id`` out of its user room now (the account was
    suspended), telling each (``session.expired``)."""
    sids = identities.of_user(user_id)
    for sid in sids:
        identities.remove(sid)
        socketio.server.leave_room(sid, f"user:{user_id}", namespace="/")
        socketio.emit("session.expired", {"reason": "user_suspended"}, to=sid)
    return len(sids)


#: How often a realtime process looks for sockets whose token has expired.
EXPIRY_CHECK_SECONDS = 5.0


def attach_realtime(app: Flask, async_mode: str | None = None,
                    expiry_check_seconds: float | None = EXPIRY_CHECK_SECONDS) -> SocketIO:
    """Add Socket.IO to ``app`` (which must verify JWTs: see ``init_jwt``). The sockets'
    identities are ``socketio.realtime_identities``, the accounts' statuses (from user events)
    ``socketio.realtime_statuses``; every ``expiry_check_seconds`` (None: never) the sockets
    whose token has expired leave their user room. Served by gevent, events go to their rooms
    through a ``Broadcaster`` (one encoded frame written to every websocket watcher)."""
    socketio = SocketIO(app, async_mode=async_mode, logger=False, engineio_logger=False,
                        ping_interval=20, ping_timeout=20)
    if async_mode == "gevent":
        Broadcaster(socketio)
    identities = socketio.realtime_identities = Identities()
    statuses = socketio.realtime_statuses = AccountStatuses()

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
        user_id = str(claims["sub"])
        if statuses.status_of(user_id) == "suspended":
            if isinstance(auth, dict) and auth.get("token"):
                raise ConnectionRefusedError("user_suspended")
            return True
        identities.add(request.sid, user_id, float(claims["exp"]))
        join_room(f"user:{user_id}")
        return True

    @socketio.on("disconnect")
    def disconnect(*_):
        identities.remove(request.sid)

    if expiry_check_seconds is not None:
        def end_expired_forever():
            while True:
                socketio.sleep(expiry_check_seconds)
                try:
                    end_expired_identities(socketio, identities, time.time())
                except Exception:
                    log.exception("could not end expired socket identities")

        socketio.start_background_task(end_expired_forever)

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


def follow_account(socketio: SocketIO, envelope: dict) -> None:
    """``user.registered`` / ``user.updated``: remember the account's status; a suspended
    account's sockets leave its private room at once and may not join it again."""
    if socketio.realtime_statuses.apply(envelope) == "suspended":
        end_identities_of(socketio, socketio.realtime_identities, str(envelope["data"]["user_id"]))


def fan_out(socketio: SocketIO, envelope: dict) -> None:
    """Emit one bus event to the room it concerns, stamped with the server's time."""
    if envelope["type"] in ACCOUNT_EVENTS:
        follow_account(socketio, envelope)
        return
    route = ROUTES.get(envelope["type"])
    if route is None:
        return
    name, room_kind, id_field = route
    data = envelope["data"]
    room = f"{room_kind}:{data[id_field]}"
    if not has_listeners(socketio, room):
        return
    if envelope["type"] == "bid.placed":
        payload = {field: data.get(field) for field in BID_PLACED_FIELDS}
    elif name == "auction.watchers":
        if "watchers_seq" not in data:  # an event of an earlier release: no count to show
            return
        payload = {field: data[field] for field in WATCHERS_FIELDS}
    elif room_kind == "auction":
        payload = {key: value for key, value in data.items() if key not in PRIVATE_FIELDS}
    else:
        payload = dict(data)
    payload["server_time"] = isoformat(utcnow())
    broadcast(socketio, name, payload, room)


def tell_clients_to_resync(socketio: SocketIO) -> None:
    """Emit ``resync`` to every client of this instance: events may have been missed (the
    private queue was lost with the broker connection), so each page fetches the live state
    and the history since its last ``seq``, as after a reconnect of its own."""
    log.warning("broker connection was lost; telling every client to resync")
    socketio.emit("resync", {"server_time": isoformat(utcnow())})


def realtime_subscription(socketio: SocketIO) -> Subscription:
    """This instance's private queue of every event it fans out (and of the accounts'
    changes, to stop a suspended account's private news at once). It lives as long as the
    broker connection: once consumed again after a lost one, the clients are told to resync
    (the queue is bound again before, so nothing falls between the two)."""
    return Subscription(
        queue="bidding_service.realtime", routing_keys=sorted({*ROUTES, *ACCOUNT_EVENTS}),
        handler=lambda envelope: fan_out(socketio, envelope), transient=True,
        on_resume=lambda: tell_clients_to_resync(socketio),
    )
