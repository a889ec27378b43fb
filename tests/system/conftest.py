"""System tests: the distributed local shape (nginx, gunicorn processes, RabbitMQ, SMTP sink)."""

from __future__ import annotations

import pytest

from tools import provision
from tools.stack import Stack, free_port


@pytest.fixture(scope="session")
def stack(postgres_admin_url, run_id, tmp_path_factory):
    """``make up``'s shape on this run's own database and vhost, on a free gateway port."""
    database, vhost = f"sys_{run_id}", f"sys_{run_id}"
    running = Stack(tmp_path_factory.mktemp("stack"), gateway_port=free_port(),
                    admin_database_url=postgres_admin_url, database=database, vhost=vhost,
                    web_workers=1, realtime_instances=2,
                    extra_env={"AUCTION_MIN_DURATION_SECONDS": "3",
                               # every test signs up many users from this one address
                               "RATE_LIMIT_PER_IP": "100000/minute"})
    try:
        running.start()
        yield running
    finally:
        running.stop()
        provision.drop_database(postgres_admin_url, database)
        provision.delete_rabbitmq_vhost(vhost)
