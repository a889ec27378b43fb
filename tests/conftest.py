"""Shared fixtures: a PostgreSQL database and a RabbitMQ vhost of this run's own.

Each run creates ``test_<random>`` (one schema and role per service, migrated) and a vhost
``test_<random>``, and drops both at the end, so runs never see each other's leftovers.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest

from tools import provision
from tools.services import SERVICES


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory) -> str:
    """The local server when it answers on 127.0.0.1:5432, else an embedded one."""
    if provision.postgres_answers():
        return "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    # Outside pytest's private temp root: the server runs as its own system user.
    return provision.start_embedded_postgres(
        Path(tempfile.mkdtemp(prefix="auction-test-pg-")) / "data")


@pytest.fixture(scope="session")
def database(postgres_admin_url, run_id) -> dict[str, str]:
    """This run's database, migrated; the URL of each service (its own role)."""
    from auction_common.migrations import upgrade

    name = f"test_{run_id}"
    provision.ensure_database(postgres_admin_url, name)
    urls = provision.service_urls(postgres_admin_url, name)
    for spec in SERVICES:
        upgrade(spec.directory, urls[spec.package])
    yield {"name": name, "admin": postgres_admin_url, **urls}
    provision.drop_database(postgres_admin_url, name)


@pytest.fixture(scope="session")
def amqp_url(run_id) -> str:
    """This run's RabbitMQ vhost."""
    from tools.stack import _ensure_rabbitmq

    _ensure_rabbitmq()
    vhost = f"test_{run_id}"
    provision.ensure_rabbitmq_vhost(vhost)
    yield provision.amqp_url(vhost)
    provision.delete_rabbitmq_vhost(vhost)


@pytest.fixture(scope="session")
def keypair(tmp_path_factory) -> tuple[Path, Path]:
    """A signing key pair for this run (private, public)."""
    from auction_common.keys import ensure_dev_keypair

    return ensure_dev_keypair(tmp_path_factory.mktemp("keys"))
