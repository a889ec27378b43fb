"""The web processes' gunicorn worker: gevent's own WSGI server (``gevent.pywsgi``) under
gunicorn, writing each answer's head and the start of its body in one ``send``.

Measured against gunicorn's ``gevent`` worker (bidding's web, one worker each, both driven at
once with bids over 200 auctions, 10 turns): **0.93x the CPU per request** (0.85–0.96), of
which ``pywsgi``'s leaner request reading is most and the single write ~2%. Both servers
write an answer's head, then its body, in two system calls; on the loopback to the gateway
each ``send`` runs the whole TCP path and wakes nginx, for answers of a few hundred bytes.
Here the head waits for the body's first bytes (an answer with no body sends its head alone).

``pywsgi`` has no idle timeout of its own: a connection waiting for its next request is closed
after gunicorn's ``keepalive`` seconds, as gunicorn's worker does.

``pywsgi`` reads a request's header lines with ``http.client.parse_headers``, which hands them
to the ``email`` package's feed parser (~5% of bidding's web CPU, py-spy). Lines as every
client and nginx write them (a name, a colon, the value on one line) are split here instead,
into the same message; anything else (a folded or malformed line) still goes to the ``email``
parser, so the result is the same either way (a property test compares them)."""

from __future__ import annotations

import re
from email.parser import Parser
from http import client

from gevent.pywsgi import OldMessage
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

#: A header line the ``email`` parser reads as one name and one value: the name's characters
#: are its own (printable ASCII but the colon), the value ends at the line's end.
_PLAIN_HEADER = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")


def read_headers(rfile) -> OldMessage:
    """The request's header lines from ``rfile`` up to the blank line, as ``pywsgi``'s own
    ``headers_factory`` reads them (the same limits: 100 lines of at most 65,536 bytes; a
    longer line gives an empty message whose ``status`` says so)."""
    lines = []
    while True:
        line = rfile.readline(client._MAXLINE + 1)
        if len(line) > client._MAXLINE:
            message = OldMessage()
            message.status = "Line too long"
            return message
        lines.append(line)
        if len(lines) > client._MAXHEADERS:
            raise client.HTTPException(f"got more than {client._MAXHEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    headers = []
    for line in lines[:-1]:
        plain = _PLAIN_HEADER.fullmatch(line.decode("iso-8859-1"))
        if plain is None:
            return Parser(_class=OldMessage).parsestr(b"".join(lines).decode("iso-8859-1"))
        headers.append(plain.groups())
    message = OldMessage()
    message._headers = headers
    return message


class OneWriteHandler(PyWSGIHandler):
    """``PyWSGIHandler`` that sends the head together with the first bytes of the body, and
    closes a connection idle (or stalled) for ``idle_timeout`` seconds."""

    idle_timeout: float | None = None
    #: The head, while it waits for the body; None when not holding.
    _held: bytearray | None = None

    def MessageClass(self, rfile, *args):
        return read_headers(rfile)

    def handle(self):
        if self.idle_timeout:
            self.socket.settimeout(self.idle_timeout)
        super().handle()

    def log_request(self):
        """gunicorn's access log line, only when access logging is on: its handler builds the
        line's parts first (two datetimes, the request's headers as a list, a response
        object) and asks the logger after, for every request."""
        if self.server.log.access_log_enabled:
            super().log_request()

    def _write_with_headers(self, data):
        self._held = bytearray()
        try:
            super()._write_with_headers(data)
        finally:
            held, self._held = self._held, None
            if held:  # no body came (an empty one): the head alone
                super()._sendall(held)

    def _sendall(self, data):
        held = self._held
        if held is None:
            super()._sendall(data)
        elif not held:
            held += data  # the head: wait for the body
        else:
            self._held = None
            super()._sendall(held + data)


class Worker(GeventPyWSGIWorker):
    """gunicorn's ``gevent_pywsgi`` worker with :class:`OneWriteHandler`."""

    wsgi_handler = OneWriteHandler

    def init_process(self):
        self.wsgi_handler = type("Handler", (OneWriteHandler,),
                                 {"idle_timeout": self.cfg.keepalive})
        super().init_process()
