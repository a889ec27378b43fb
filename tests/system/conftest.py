"""System tests: the distributed local shape (nginx, gunicorn processes, RabbitMQ, SMTP sink)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tools import provision
from tools.stack import Stack, free_port


@pytest.fixture(scope="session")
def stack(postgres_admin_url, run_id, tmp_path_factory):
    """``make up``'s shape on this run's own database and vhost, on a free gateway port."""
    database, vhost = f"sys_{run_id}", f"sys_{run_id}"
    # Outside pytest's private (0700) temp root: nginx's workers must read the media folder.
    state_dir = Path(tempfile.mkdtemp(prefix="auction-stack-"))
    state_dir.chmod(0o755)
    running = Stack(state_dir, gateway_port=free_port(),
                    admin_database_url=postgres_admin_url, database=database, vhost=vhost,
                    web_workers=2, realtime_instances=2,
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
        shutil.rmtree(state_dir, ignore_errors=True)
