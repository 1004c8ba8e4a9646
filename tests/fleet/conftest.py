"""Fixtures of the fleet tests: a PostgreSQL database of their own per test.

Each test gets a fresh database on the shared server at 127.0.0.1:5432
(created from the `test` database's connection, dropped afterwards with
`WITH (FORCE)` so a member process the test killed cannot keep it alive).
When the server cannot be reached the tests are skipped with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine, text

from app.fleet.leases import LeaseStore
from app.store import accounts, create_engine_for, session_factory, upgrade
from app.store.accounts import AccountSpec
from tests.store.conftest import PG_HOST, PG_PORT, _postgres_user

TTL = 6.0
GRACE = 2.0


@pytest.fixture
def fleet_url() -> Iterator[str]:
    """The URL of an empty database of this test's own, dropped afterwards."""
    user, why = _postgres_user()
    if user is None:
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable ({why})")
    name = f"pd_fleet_{uuid.uuid4().hex[:12]}"
    admin = f"host={PG_HOST} port={PG_PORT} user={user} dbname=test"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fleet_engine(fleet_url: str) -> Iterator[Engine]:
    engine = create_engine_for(fleet_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def leases(fleet_engine: Engine) -> LeaseStore:
    return LeaseStore(fleet_engine, ttl=TTL, grace=GRACE)


def add_accounts(engine: Engine, count: int, prefix: str = "s") -> list[str]:
    now = datetime.now(UTC)
    with session_factory(engine).begin() as session:
        infos = accounts.create_accounts(
            session,
            [AccountSpec(workspace_id=1, session_id=f"{prefix}{i:03d}") for i in range(count)],
            now=now,
        )
    return [info.session_id for info in infos]


def age_leases(engine: Engine, seconds: float, session_ids: list[str] | None = None) -> None:
    """Move lease expiries `seconds` into the past (as if that much database time passed)."""
    LeaseStore(engine, ttl=TTL, grace=GRACE).ensure_rows()
    where = "" if session_ids is None else " WHERE session_id = ANY(:ids)"
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE session_leases SET expires_at = expires_at - make_interval(secs => :s)"
                + where
            ),
            {"s": seconds, "ids": session_ids},
        )
