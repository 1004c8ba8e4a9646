"""`SqlOutbox` on SQLite: the deliverer's reads never queue behind a write in progress.

The recorder writes each event and its webhook in a transaction that holds
SQLite's write lock. The deliverer's reads (`next_due`, `next_wakeup`,
`next_work`, `get`, `metrics`) run beside it in WAL and see the last committed rows; its writes
(`mark_sent`, ...) still take the lock up front and wait for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.domain.outbox import OutboxState
from app.store import create_engine_for, session_factory, upgrade
from app.store import outbox as repo
from app.sync.outbox import SqlOutbox

from .conftest import FakeClock


@pytest.fixture
def impatient_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite file whose connections answer "locked" at once instead of waiting."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'pairdesk.db'}")

    def connect(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")  # type: ignore[attr-defined]

    event.listen(engine, "connect", connect)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def _enqueue(session: Session, sid: str, name: str, clock: FakeClock) -> uuid.UUID:
    return repo.enqueue(
        session,
        event_id=uuid.uuid4(),
        session_id=sid,
        name=name,
        payload={"session_id": sid},
        now=clock.datetime(),
    ).event_id


async def test_reads_run_beside_an_open_write(
    impatient_sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    store = SqlOutbox(sessions=impatient_sessions, in_thread=False)
    with impatient_sessions.begin() as s:
        committed = _enqueue(s, "a", "session_authenticated", clock)
    now = clock.datetime()
    with impatient_sessions.begin() as writer:
        _enqueue(writer, "b", "qr_code_generated", clock)  # holds the write lock, uncommitted
        due = await store.next_due(now, 10)
        assert [item.event_id for item in due] == [committed]
        assert await store.next_wakeup() == now
        work, wakeup = await store.next_work(now, 10)
        assert [item.event_id for item in work] == [committed] and wakeup == now
        row = await store.get(committed)
        assert row is not None and row.state is OutboxState.PENDING
        assert (await store.metrics(now)).pending == 1
        with pytest.raises(OperationalError, match="locked"):
            await store.mark_sent(committed, now=now, status=200)
    await store.mark_sent(committed, now=now, status=200)
    row = await store.get(committed)
    assert row is not None and row.state is OutboxState.SENT
    assert [item.session_id for item in await store.next_due(now, 10)] == ["b"]


async def test_next_work_is_the_due_heads_and_the_next_wakeup_in_one_read(
    impatient_sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    store = SqlOutbox(sessions=impatient_sessions, in_thread=False)
    now = clock.datetime()
    with impatient_sessions.begin() as s:
        first = _enqueue(s, "a", "session_authenticated", clock)
        _enqueue(s, "a", "session_ready", clock)  # behind `first`: not due yet
        later = _enqueue(s, "b", "session_authenticated", clock)
        repo.mark_retry(
            s,
            later,
            now=now,
            next_attempt_at=now + timedelta(seconds=60),
            error="HTTP 503",
            status=503,
        )
    due, wakeup = await store.next_work(now, 10)
    assert [item.event_id for item in due] == [first]
    assert wakeup == now
    assert (due, wakeup) == (await store.next_due(now, 10), await store.next_wakeup())
    assert await store.next_work(now, 10, session_ids=["b"]) == ([], now + timedelta(seconds=60))
    assert await store.next_work(now, 10, session_ids=[]) == ([], None)
