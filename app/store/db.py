"""Opening databases and migrating them.

`create_engine_for(url)` makes an engine tuned for how pairdesk uses the
database: several processes (supervisor and instances) share one SQLite file,
so it runs in WAL mode with a busy timeout, and every transaction that may
write starts with `BEGIN IMMEDIATE` so two writers queue up instead of one
failing half-way with "database is locked". A read-only unit of work opened
with `read_only(sessions)` starts with a deferred `BEGIN` instead: in WAL a
reader runs beside a writer, so it never waits for the write lock (nor
sleeps in SQLite's busy handler while another connection writes).
PostgreSQL goes through psycopg 3, where both are plain transactions.

`upgrade(url)` applies the Alembic migrations packaged in
`app/store/migrations` (package data, found through `importlib.resources`);
no alembic.ini is needed. There is no global engine:
the composition root builds one and passes it (or a `session_factory`) on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.store.errors import DatabaseTooNew, DatabaseUnavailable, SchemaOutOfDate, redact_url

__all__ = [
    "check_schema",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "migrations_dir",
    "normalize_url",
    "read_only",
    "session_factory",
    "upgrade",
]

SQLITE_BUSY_TIMEOUT_MS = 15_000
# Execution option a read-only unit's connection carries (see `read_only`).
READ_ONLY_OPTION = "pairdesk_read_only"


def normalize_url(url: str) -> str:
    """The URL with a driver SQLAlchemy can use: `postgresql://` means psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            f"database_url {redact_url(url)!r} is not a database URL; use a form such as "
            "sqlite:////path/to/pairdesk.db or postgresql://user@host:5432/dbname"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _prepare_sqlite_folder(url: str) -> None:
    path = _sqlite_path(url)
    if path is None or path.parent.exists():
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the database folder {path.parent} ({exc.strerror}); "
            "pairdesk cannot store accounts until it can. Check the folder's permissions "
            "or set database_url to a writable place."
        ) from None


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module (see `_on_sqlite_begin`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so the busy timeout applies; a
    # deferred transaction that reads and then writes would instead fail at once
    # when another process wrote in between (SQLITE_BUSY_SNAPSHOT). A unit that
    # never writes (`read_only`) cannot hit that, and in WAL a deferred read
    # runs beside the writer instead of queueing for its lock.
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine_for(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url` (SQLite or PostgreSQL), configured as described above.

    Connecting is lazy; `check_schema` or `upgrade` is the first real contact.
    """
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        _prepare_sqlite_folder(url)
        engine = create_engine(url, echo=echo)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def read_only(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for a unit of work that only reads; it ends in a rollback.

    On SQLite its transaction opens with a deferred `BEGIN`, so it reads the
    last committed state while another connection holds the write lock,
    instead of waiting for that lock. Never write through it: nothing it
    does is committed. Elsewhere it is an ordinary transaction.
    """
    with sessions() as session:
        session.connection(execution_options={READ_ONLY_OPTION: True})
        yield session


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise _unavailable(engine, exc) from None
    with connection:
        yield connection


def _unavailable(engine: Engine, exc: DBAPIError) -> DatabaseUnavailable:
    first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else ""
    shown = engine.url.render_as_string(hide_password=True)
    if engine.url.get_backend_name() == "sqlite":
        hint = (
            "Check that the file is a pairdesk database, that its folder is writable "
            "and that no other program holds a lock on it."
        )
    else:
        hint = "Check that the server is running and reachable, and that database_url is right."
    return DatabaseUnavailable(
        f"cannot open the database at {shown}: {first}. "
        f"pairdesk cannot load or save accounts until it can. {hint}"
    )


def migrations_dir() -> Path:
    """The packaged migrations folder (Alembic reads revision files from a real folder)."""
    folder = resources.files("app.store").joinpath("migrations")
    if not isinstance(folder, Path) or not folder.joinpath("env.py").is_file():
        raise DatabaseUnavailable(
            f"the database migrations are missing from this installation ({folder}); "
            "pairdesk cannot open a database without them. Reinstall pairdesk."
        )
    return folder


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of pairdesk knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "app/store/migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or None for an empty database."""
    with _connect(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _check_known(engine: Engine, revision: str | None) -> None:
    if revision is None:
        return
    script = ScriptDirectory.from_config(_alembic_config())
    if not _known(script, revision):
        raise DatabaseTooNew(
            f"the database at {engine.url.render_as_string(hide_password=True)} has schema "
            f"revision {revision}, made by a newer pairdesk than this one (which knows up to "
            f"{head_revision()}). Nothing was changed. Run the newer pairdesk, or set "
            "database_url to another database."
        )


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises several types for an unknown id
        return False


def check_schema(engine: Engine) -> None:
    """Raise unless the database is reachable and exactly at this version's schema."""
    revision = current_revision(engine)
    _check_known(engine, revision)
    if revision != head_revision():
        raise SchemaOutOfDate(
            f"the database at {engine.url.render_as_string(hide_password=True)} is at schema "
            f"revision {revision or '(empty)'}, this pairdesk needs {head_revision()}. "
            "Upgrade it with app.store.upgrade(url), which pairdesk runs on start; "
            "until then accounts cannot be loaded or saved."
        )


def upgrade(target: str | Engine, revision: str = "head") -> None:
    """Migrate the database at `target` (a URL or an engine) up to `revision`.

    Safe to run on every start: an up-to-date database is left untouched. A
    database from a newer pairdesk raises `DatabaseTooNew` before anything runs.
    """
    engine = create_engine_for(target) if isinstance(target, str) else target
    try:
        _check_known(engine, current_revision(engine))
        with _connect(engine) as connection:
            command.upgrade(_alembic_config(connection), revision)
            connection.commit()
        _restrict_sqlite_file(engine)
    except DBAPIError as exc:
        raise _unavailable(engine, exc) from None
    finally:
        if isinstance(target, str):
            engine.dispose()


def _restrict_sqlite_file(engine: Engine) -> None:
    # The file holds phone numbers; like the session folders, owner only.
    path = _sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        return
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):  # -wal/-shm exist only while in use
            os.chmod(part, 0o600)
