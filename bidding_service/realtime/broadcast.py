"""One encoding per event and one write per watcher: the fan-out to a room without the
per-recipient machinery.

Engine.IO hands every packet to each recipient's queue, which wakes that connection's writer
greenlet, which encodes the packet and its websocket frame and writes it (with a timer for the
queue's wait and a system call for the buffer's size besides). For an event to 2,500 watchers
that is ~50 µs of CPU per watcher, and the last watcher hears of the bid only once every other
writer has run. An event to a room is the same bytes for every websocket watcher (a server's
frames are not masked), so ``Broadcaster.emit`` encodes the frame once and writes it straight
to each connection whose writer has nothing in hand (one non-blocking ``send``). Everything
else takes Engine.IO's own path, unchanged: a client still on long-polling or upgrading, a
connection whose writer is writing or has packets waiting, a full socket buffer.

Order is kept per connection: a frame is written straight only when nothing was queued before
it and nothing is being written; a frame the kernel took only part of holds the connection's
write lock until its rest is written, so the writer's next packet follows it whole.
"""

from __future__ import annotations

import gevent
from engineio import packet as eio_packet
from engineio.async_drivers.gevent import WebSocketWSGI
from flask_socketio import SocketIO
from gevent.lock import Semaphore
from geventwebsocket.websocket import Header, WebSocket
from prometheus_client import Counter
from socketio import packet as sio_packet

#: Each recipient of an event to a room, by how it was handed over: ``written`` whole at once,
#: ``split`` (the kernel took a part, the rest follows before anything else), ``queued`` to
#: Engine.IO's writer (not on websocket yet, a write under way or waiting, a full buffer).
DELIVERIES = Counter("realtime_room_deliveries_total",
                     "Recipients of events to rooms, by how each was handed over", ["path"])


class _Connection(WebSocketWSGI):
    """Engine.IO's gevent websocket, whose writes (the writer's and ``write_now``'s) take turns
    under one lock. ``busy`` counts the greenlets holding or waiting for it."""

    #: sid -> its connection, while it serves; each Broadcaster's subclass has its own.
    registry: dict[str, _Connection] = {}

    def __init__(self, handler, server):
        super().__init__(handler, server)
        # Engine.IO builds its websocket with its socket's bound handler: the socket's sid.
        self.sid = getattr(getattr(handler, "__self__", None), "sid", None)
        self.lock = Semaphore()
        self.busy = 0

    def __call__(self, environ, start_response):
        """Serve the websocket (Engine.IO's handler runs until it ends), known by sid meanwhile."""
        if self.sid is not None:
            self.registry[self.sid] = self
        try:
            return super().__call__(environ, start_response)
        finally:
            if self.sid is not None and self.registry.get(self.sid) is self:
                del self.registry[self.sid]

    def _in_turn(self, write, *args):
        self.busy += 1
        try:
            with self.lock:
                return write(*args)
        finally:
            self.busy -= 1

    def send(self, message):
        """Engine.IO's writer: one packet, after any frame written straight is whole."""
        return self._in_turn(super().send, message)

    def close(self):
        """Close after any frame written straight is whole."""
        return self._in_turn(super().close)

    def write_now(self, frame: bytes) -> str | None:
        """Write ``frame`` if no write is under way or waiting: ``"written"`` (all of it) or
        ``"split"`` (its rest is being sent, before anything else), None if nothing was written
        (the caller queues it instead)."""
        websocket = getattr(self, "_sock", None)
        if self.busy or websocket is None or websocket.closed:
            return None
        connection = getattr(websocket.handler, "socket", None)
        if connection is None:
            return None
        try:
            sent = connection.send(frame, 0, 0.0)  # never waits: a full buffer raises
        except OSError:
            return None
        if sent == len(frame):
            return "written"
        self.busy += 1
        self.lock.acquire()  # free: nothing held or awaited it (busy was 0)
        gevent.spawn(self._write_rest, connection, memoryview(frame)[sent:])
        return "split"

    def _write_rest(self, connection, rest: memoryview) -> None:
        try:
            connection.sendall(rest)
        except OSError:
            pass  # the connection is gone: its reader ends it
        finally:
            self.lock.release()
            self.busy -= 1


class Broadcaster:
    """Emits to rooms of ``socketio`` (gevent with gevent-websocket, as the realtime process
    and ``make run`` serve) through one encoded frame; installed as ``socketio.broadcaster``.
    Every caller runs on gevent's loop (the process is monkey-patched): between two waits, a
    greenlet's steps are not interleaved with another's, which is what keeps order above."""

    def __init__(self, socketio: SocketIO):
        self.socketio = socketio
        self.connections: dict[str, _Connection] = {}
        eio = socketio.server.eio
        connection_class = type("Connection", (_Connection,), {"registry": self.connections})
        # Engine.IO asks its driver for the websocket class at each upgrade: ours from now on.
        eio._async = {**eio._async, "websocket": connection_class}
        socketio.broadcaster = self

    def emit(self, event: str, data: dict, room: str, namespace: str = "/") -> None:
        """``socketio.emit(event, data, to=room)``: the same packets, in the same order per
        client, each websocket client's written at once."""
        server = self.socketio.server
        encoded = server.packet_class(sio_packet.EVENT, namespace=namespace,
                                      data=[event, data]).encode()
        if isinstance(encoded, list):  # binary attachments: several packets; not ours
            self.socketio.emit(event, data, to=room, namespace=namespace)
            return
        message = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        payload = message.encode().encode("utf-8")
        frame = bytes(Header.encode_header(True, WebSocket.OPCODE_TEXT, b"", len(payload), 0)
                      ) + payload
        eio, handed = server.eio, {"written": 0, "split": 0, "queued": 0}
        for _sid, eio_sid in server.manager.get_participants(namespace, room):
            connection = self.connections.get(eio_sid)
            socket = eio.sockets.get(eio_sid)
            path = None
            if (connection is not None and socket is not None and socket.upgraded
                    and not (socket.upgrading or socket.closing or socket.closed)
                    and socket.queue.empty()):
                path = connection.write_now(frame)
            if path is None:
                eio.send_packet(eio_sid, message)
                path = "queued"
            handed[path] += 1
        for path, count in handed.items():
            if count:
                DELIVERIES.labels(path).inc(count)


def has_listeners(socketio: SocketIO, room: str, namespace: str = "/") -> bool:
    """Whether a client of this process is in ``room``: an event to a room nobody is in here
    needs no payload, no encoding, no frame (most auctions, most of the time)."""
    return bool(socketio.server.manager.rooms.get(namespace, {}).get(room))


def broadcast(socketio: SocketIO, event: str, data: dict, room: str) -> None:
    """Emit ``event`` to ``room`` through ``socketio``'s broadcaster if it has one."""
    broadcaster = getattr(socketio, "broadcaster", None)
    if broadcaster is None:
        socketio.emit(event, data, to=room)
    else:
        broadcaster.emit(event, data, room)
