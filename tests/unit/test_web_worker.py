"""The web processes' connection handler (``auction_common.gunicorn_worker``): each answer's
head goes out with its body's first bytes, answers stay well-formed (empty, chunked, several on
one connection), a connection left idle is closed, and a request's header lines are read into
what ``pywsgi``'s own reading gives, whatever the lines.

The handler runs on one end of a real socket pair, in a thread, and a client speaks HTTP on
the other end; the server's end is wrapped only to record what each ``sendall`` carried."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
import time

import pytest
from gevent.pywsgi import headers_factory
from gunicorn.workers.ggevent import PyWSGIServer
from hypothesis import given, settings
from hypothesis import strategies as st

from auction_common.gunicorn_worker import OneWriteHandler, read_headers
from tests.support.waiting import wait_for


class _RecordingSocket:
    """A real socket whose ``sendall`` calls are recorded (everything else is the socket's)."""

    def __init__(self, sock: socket.socket):
        self._sock_itself = sock
        self.sent: list[bytes] = []

    def sendall(self, data) -> None:
        self.sent.append(bytes(data))
        self._sock_itself.sendall(data)

    def __getattr__(self, name):
        if name == "_sock":  # pywsgi looks for a wrapped socket under this name
            raise AttributeError(name)
        return getattr(self._sock_itself, name)


class _Log:
    """gunicorn's logger as the handler sees it: whether access logging is on, and the lines
    it was given (the answer's status each)."""

    def __init__(self, enabled: bool = False):
        self.access_log_enabled = enabled
        self.lines: list[str] = []

    def access(self, resp, req, environ, request_time) -> None:
        self.lines.append(resp.status)


def _app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/json":
        body = json.dumps({"status": "leading", "current_price": 1100}).encode()
        start_response("201 CREATED", [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(body)))])
        return [body]
    if path == "/empty":
        start_response("204 NO CONTENT", [])
        return []
    if path == "/stream":  # no length: sent chunked, a piece at a time
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"first,", b"second,", b"third"])
    raise AssertionError(path)


@pytest.fixture
def log():
    return _Log()


@pytest.fixture
def connection(log):
    """(client socket, the server end's recording socket, the handler's thread)."""
    server_end, client = socket.socketpair()
    recording = _RecordingSocket(server_end)
    server = PyWSGIServer(("127.0.0.1", 0), _app, log=log)
    server.update_environ()
    handler_class = type("Handler", (OneWriteHandler,), {"idle_timeout": 0.5})
    thread = threading.Thread(
        target=lambda: handler_class(recording, ("127.0.0.1", 40000), server).handle(),
        daemon=True)
    thread.start()
    client.settimeout(5)
    yield client, recording, thread
    client.close()
    thread.join(timeout=5)


def _ask(client: socket.socket, method: str, path: str) -> http.client.HTTPResponse:
    client.sendall(f"{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    response = http.client.HTTPResponse(client, method=method)
    response.begin()
    return response


def _wait_for_sends(recording: _RecordingSocket, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(recording.sent) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def test_an_answer_goes_out_head_and_body_in_one_write(connection):
    client, recording, _ = connection
    response = _ask(client, "POST", "/json")
    assert response.status == 201
    assert json.loads(response.read()) == {"status": "leading", "current_price": 1100}
    assert len(recording.sent) == 1
    head, _, body = recording.sent[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 CREATED") and body.startswith(b'{"status"')


def test_an_answer_without_a_body_still_sends_its_head(connection):
    client, recording, _ = connection
    response = _ask(client, "DELETE", "/empty")
    assert response.status == 204 and response.read() == b""
    assert len(recording.sent) == 1 and recording.sent[0].endswith(b"\r\n\r\n")


def test_a_streamed_answer_arrives_whole_and_in_order(connection):
    client, recording, _ = connection
    response = _ask(client, "GET", "/stream")
    assert response.status == 200
    assert response.read() == b"first,second,third"
    # The head with the first chunk, then one write per later chunk and the last one's end.
    assert b"first," in recording.sent[0] and recording.sent[0].startswith(b"HTTP/1.1 200")
    assert len(recording.sent) == 4


def test_several_answers_on_one_connection(connection):
    client, recording, _ = connection
    for _ in range(3):
        response = _ask(client, "POST", "/json")
        assert response.status == 201 and response.read()
    _wait_for_sends(recording, 3)
    assert len(recording.sent) == 3


@pytest.mark.parametrize("log", [_Log(enabled=True)])
def test_each_answer_is_in_the_access_log_when_it_is_on(connection, log):
    client, _, _ = connection
    for method, path in (("POST", "/json"), ("DELETE", "/empty")):
        _ask(client, method, path).read()
    wait_for(lambda: len(log.lines) >= 2, timeout=5, message="two access log lines")
    assert log.lines == ["201 CREATED", "204 NO CONTENT"]


def test_no_access_log_line_is_built_when_it_is_off(connection, log):
    client, _, thread = connection
    for _ in range(2):
        _ask(client, "POST", "/json").read()
    client.close()  # the handler ends: whatever it would log of the two is logged by then
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert log.lines == []


def test_a_connection_left_idle_is_closed(connection):
    client, _, thread = connection
    response = _ask(client, "POST", "/json")
    response.read()
    thread.join(timeout=5)  # the handler gives up on the idle connection (0.5 s)
    assert not thread.is_alive()
    assert client.recv(1) == b""


def test_web_processes_are_one_per_two_cores_unless_web_concurrency_says(monkeypatch, tmp_path):
    import importlib

    # Importing the settings sets the metrics folder in the environment: this test's own, and
    # the environment is given back as it was afterwards.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from auction_common import gunicorn_conf

    assert [gunicorn_conf.default_workers(cores) for cores in (1, 2, 3, 4, 8)] == [1, 1, 1, 2, 4]
    try:
        monkeypatch.setenv("WEB_CONCURRENCY", "3")
        assert importlib.reload(gunicorn_conf).workers == 3
        monkeypatch.delenv("WEB_CONCURRENCY")
        assert importlib.reload(gunicorn_conf).workers == gunicorn_conf.default_workers()
    finally:
        importlib.reload(gunicorn_conf)


# ---- header lines ------------------------------------------------------------------------

_NAMES = st.sampled_from(["Host", "Content-Length", "content-type", "X-Request-Id", "From",
                          "Connection", "Transfer-Encoding", "Authorization", "X_Under", ""])
_ODD_TEXT = st.lists(st.sampled_from(list("ab :\t\r\x00\x7f\xe9-_/=") + ["From "]),
                     max_size=12).map("".join)
#: Lines as clients write them, and every kind of odd one (folded, no colon, a space before
#: the colon, a bare CR, "From "), mixed: most blocks take the quick path, some do not.
_PLAIN_TEXT = st.lists(st.sampled_from(list("::  \t\tab9-é\xff\x00\x1b\x7f")),
                       max_size=12).map("".join)
_PLAIN_LINE = st.tuples(
    _NAMES.filter(bool), st.sampled_from([":", ": ", ":\t ", ":  "]), _PLAIN_TEXT,
    st.sampled_from(["\r\n", "\n", " \r\n", "\t\n"])).map("".join)
_ODD_LINE = st.one_of(
    st.tuples(_NAMES, st.sampled_from([":", " :", "\t:", ""]), _ODD_TEXT,
              st.sampled_from(["\r\n", "\n", "\r"])).map("".join),
    st.tuples(st.sampled_from([" ", "\t", "From ", ""]), _ODD_TEXT,
              st.sampled_from(["\r\n", "\n"])).map("".join))
_BLOCKS = st.tuples(
    st.lists(st.one_of(_PLAIN_LINE, _PLAIN_LINE, _PLAIN_LINE, _ODD_LINE), max_size=6),
    st.sampled_from(["\r\n", "\n", ""]), st.sampled_from(["", "body bytes"]))


@settings(max_examples=400)
@given(_BLOCKS)
def test_header_lines_are_read_as_pywsgi_reads_them(block):
    lines, end, rest = block
    data = "".join(lines + [end, rest]).encode("latin-1")
    ours, theirs = io.BytesIO(data), io.BytesIO(data)
    mine, stock = read_headers(ours), headers_factory(theirs, 0)
    assert mine._headers == stock._headers
    assert mine.status == stock.status
    assert ours.tell() == theirs.tell()  # the body is left where it starts
    for name in ("host", "content-length", "transfer-encoding", "connection"):
        assert mine.get(name) == stock.get(name)
    assert list(mine.headers) == list(stock.headers)


def test_header_lines_keep_pywsgis_limits():
    too_long = read_headers(io.BytesIO(b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n"))
    assert too_long.status == "Line too long"
    with pytest.raises(http.client.HTTPException):
        read_headers(io.BytesIO(b"X-A: b\r\n" * 101 + b"\r\n"))
    plain = read_headers(io.BytesIO(b"Host: h\r\nContent-Length:  12 \r\nX-A:\r\n\r\n"))
    assert plain._headers == [("Host", "h"), ("Content-Length", "12 "), ("X-A", "")]
