"""Opening databases: URLs, SQLite tuning, permissions, and errors a user can act on."""

from __future__ import annotations

import stat
import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.domain.models import AccountSpec
from app.store import (
    DatabaseTooNew,
    DatabaseUnavailable,
    SchemaOutOfDate,
    accounts,
    check_schema,
    create_engine_for,
    normalize_url,
    session_factory,
    upgrade,
)
from app.store.db import read_only


def test_normalize_url() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    with pytest.raises(DatabaseUnavailable, match="not a database URL"):
        normalize_url("not a url")


def test_sqlite_is_tuned_and_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "pairdesk.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        upgrade(engine)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    finally:
        engine.dispose()


def test_sqlite_folder_that_cannot_exist(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseUnavailable, match="cannot create the database folder"):
        create_engine_for(f"sqlite:///{blocker / 'sub' / 'pairdesk.db'}")


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "pairdesk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseUnavailable, match="cannot open the database.*pairdesk database"):
        upgrade(f"sqlite:///{path}")


@pytest.mark.postgres
def test_unreachable_server_is_explained() -> None:
    url = "postgresql://someone:s3cret@127.0.0.1:1/nothing?connect_timeout=2"
    with pytest.raises(DatabaseUnavailable) as caught:
        upgrade(url)
    message = str(caught.value)
    assert "cannot open the database" in message and "server is running" in message
    assert "s3cret" not in message and "***" in message


def test_empty_database_is_out_of_date(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        with pytest.raises(SchemaOutOfDate, match=r"\(empty\)"):
            check_schema(engine)
        upgrade(engine)
        check_schema(engine)
    finally:
        engine.dispose()


def test_newer_database_is_refused_untouched(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    with pytest.raises(DatabaseTooNew, match="newer pairdesk") as caught:
        upgrade(engine)
    assert "Nothing was changed" in str(caught.value)
    with pytest.raises(DatabaseTooNew):
        check_schema(engine)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "ffff_from_the_future"


def test_concurrent_read_modify_write_loses_nothing(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    """Writers from several threads queue up instead of failing or overwriting each other."""
    with sessions.begin() as s:
        accounts.create_account(s, AccountSpec(workspace_id=1, session_id="shared"), now=now)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for n in range(15):
                with sessions.begin() as s:
                    accounts.update_account(s, "shared", metadata={f"{worker}-{n}": n})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as s:
        assert len(accounts.get_account(s, "shared").metadata) == 60


def _no_busy_wait(engine: Engine) -> None:
    """SQLite answers "database is locked" at once instead of waiting for the lock."""

    def connect(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")  # type: ignore[attr-defined]

    event.listen(engine, "connect", connect)


def test_sqlite_read_only_unit_runs_beside_an_open_write(tmp_path: Path, now: datetime) -> None:
    """A read-only unit reads the committed state while another connection writes.

    Every other unit still takes the write lock up front (`BEGIN IMMEDIATE`),
    so it waits for that writer (here, with no busy wait, it is refused).
    """
    engine = create_engine_for(f"sqlite:///{tmp_path / 'pairdesk.db'}")
    _no_busy_wait(engine)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions.begin() as s:
            accounts.create_account(s, AccountSpec(workspace_id=1, session_id="kept"), now=now)
        with sessions.begin() as writer:
            accounts.create_account(
                writer, AccountSpec(workspace_id=1, session_id="uncommitted"), now=now
            )
            with read_only(sessions) as reader:
                seen = [info.session_id for info in accounts.list_accounts(reader)]
            assert seen == ["kept"]
            with pytest.raises(OperationalError, match="locked"), sessions.begin() as other:
                accounts.update_account(other, "kept", label="blocked")
    finally:
        engine.dispose()


def test_read_only_unit_reads_and_commits_nothing(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as s:
        accounts.create_account(s, AccountSpec(workspace_id=1, session_id="a"), now=now)
    with read_only(sessions) as s:
        assert accounts.get_account(s, "a").session_id == "a"
        accounts.update_account(s, "a", label="never kept")
    with sessions() as s:
        assert accounts.get_account(s, "a").label == ""
