"""Fixtures that run every store test on SQLite and on PostgreSQL.

The `db_url` fixture is parametrised: `sqlite` (a file in tmp_path) and
`postgres` (the server at 127.0.0.1:5432, database `test`). Each PostgreSQL
test gets its own schema, selected through the connection's `search_path`,
and drops it afterwards, so parallel and repeated runs never see each other's
rows. When the server cannot be reached the postgres variants are skipped
with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.store import create_engine_for, session_factory, upgrade

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_DATABASE = "test"
PG_USERS = ("postgres", "root")


@cache
def _postgres_user() -> tuple[str | None, str]:
    """The first user that can connect, or None and why none could."""
    errors = []
    for user in PG_USERS:
        try:
            with psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=user, dbname=PG_DATABASE, connect_timeout=3
            ):
                return user, ""
        except psycopg.Error as exc:
            errors.append(f"{user}: {str(exc).strip().splitlines()[0] if str(exc) else exc}")
    return None, "; ".join(errors)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL for a fresh, empty schema of its own; the schema is dropped afterwards."""
    user, why = _postgres_user()
    if user is None:
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT}/{PG_DATABASE} unreachable ({why})")
    schema = f"pd_test_{uuid.uuid4().hex[:12]}"
    conninfo = f"host={PG_HOST} port={PG_PORT} user={user} dbname={PG_DATABASE}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    options = quote(f"-csearch_path={schema}")
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}?options={options}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'data' / 'pairdesk.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind, not yet migrated."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database."""
    eng = create_engine_for(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One open session; the test commits what it wants kept."""
    with sessions() as s:
        yield s


@pytest.fixture
def now() -> datetime:
    # Microsecond-free so values compare equal after any database round trip.
    return datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
