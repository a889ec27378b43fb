"""Alembic plumbing: each service keeps its own migrations and version table in its schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.pool import NullPool


def run_migrations(metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``: migrate the service's schema only."""
    from alembic import context

    schema = metadata.schema
    url = context.config.attributes["database_url"]
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        # Several processes may start at once: one migrates, the others wait for it.
        connection.execute(text("SELECT pg_advisory_lock(hashtext(:s))"), {"s": schema})
        exists = connection.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).first()
        if not exists:  # normally created by provisioning, owned by the service's role
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        connection.execute(text("SELECT pg_advisory_unlock(hashtext(:s))"), {"s": schema})
        connection.commit()
    engine.dispose()


def alembic_config(service_dir: Path, database_url: str):
    """An Alembic config for a service's ``migrations/`` folder (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(service_dir) / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(service_dir: Path, database_url: str) -> None:
    """Bring a service's schema to the newest migration."""
    from alembic import command

    command.upgrade(alembic_config(service_dir, database_url), "head")
