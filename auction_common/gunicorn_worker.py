"""The web processes' gunicorn worker: gevent's own WSGI server (``gevent.pywsgi``) under
gunicorn, writing each answer's head and the start of its body in one ``send``.

Measured against gunicorn's ``gevent`` worker (bidding's web, one worker each, both driven at
once with bids over 200 auctions, 10 turns): **0.93x the CPU per request** (0.85–0.96), of
which ``pywsgi``'s leaner request reading is most and the single write ~2%. Both servers
write an answer's head, then its body, in two system calls; on the loopback to the gateway
each ``send`` runs the whole TCP path and wakes nginx, for answers of a few hundred bytes.
Here the head waits for the body's first bytes (an answer with no body sends its head alone).

``pywsgi`` has no idle timeout of its own: a connection waiting for its next request is closed
after gunicorn's ``keepalive`` seconds, as gunicorn's worker does."""

from __future__ import annotations

from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler


class OneWriteHandler(PyWSGIHandler):
    """``PyWSGIHandler`` that sends the head together with the first bytes of the body, and
    closes a connection idle (or stalled) for ``idle_timeout`` seconds."""

    idle_timeout: float | None = None
    #: The head, while it waits for the body; None when not holding.
    _held: bytearray | None = None

    def handle(self):
        if self.idle_timeout:
            self.socket.settimeout(self.idle_timeout)
        super().handle()

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
