"""Migrations: an empty database upgrades to the full schema, matching the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from app.store import create_engine_for, current_revision, head_revision, upgrade
from app.store.db import _alembic_config
from app.store.models import Base

TABLES = {"accounts", "session_events", "instances", "import_batches", "outbox"} | {
    "fleet_members",
    "session_leases",
    "session_snapshots",
}


def test_upgrade_from_empty_creates_every_table(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
        assert current_revision(engine) == head_revision()
        upgrade(engine)  # a second run is a no-op
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_to_empty_and_back(engine: Engine) -> None:
    with engine.connect() as connection:
        command.downgrade(_alembic_config(connection), "base")
        connection.commit()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
