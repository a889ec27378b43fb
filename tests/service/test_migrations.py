"""Each service's migrations produce exactly its models: a column added to a model without a
migration (or the other way round) fails here, not in production."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tools.services import ROOT, SERVICES


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.package for spec in SERVICES])
def test_the_migrations_produce_exactly_the_models(database, spec):
    metadata = spec.module("models").metadata
    schema = metadata.schema
    engine = create_engine(database[spec.package], poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_schemas": True,
                "version_table_schema": schema,
                "include_name": lambda name, type_, parent: (
                    type_ != "schema" or name == schema),
                # Defaults the database fills in (now(), 0, '{}') are part of the schema too:
                # a model's new server default without its migration fails here.
                "compare_server_default": True,
            })
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == [], f"{spec.package}: models and migrations differ: {differences}"


def test_every_package_with_migrations_is_compared():
    """A service added with its own migrations but not to ``SERVICES`` would escape the
    comparison above (and the test database's migration) without a word."""
    migrated = {env.parent.parent.name for env in ROOT.glob("*/migrations/env.py")}
    assert migrated == {spec.package for spec in SERVICES}
