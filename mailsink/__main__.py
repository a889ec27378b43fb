"""``python -m mailsink --smtp-port 1025 --http-port 8025 --store var/mailbox.jsonl``."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from auction_common.errors import register_error_handlers

from .smtp import start_smtp
from .store import Mailbox
from .web import mailbox_blueprint


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run the SMTP sink and its web view until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m mailsink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--store", type=Path, default=Path("var/mailbox.jsonl"))
    args = parser.parse_args()
    mailbox = Mailbox(args.store)
    controller = start_smtp(mailbox, args.host, args.smtp_port)
    app = Flask("mailsink")
    register_error_handlers(app)
    app.register_blueprint(mailbox_blueprint(mailbox))
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    server = make_server(args.host, args.http_port, app, threaded=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
