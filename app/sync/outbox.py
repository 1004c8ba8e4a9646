"""What the deliverer needs from the durable outbox: a Protocol, the SQL adapter and a fake.

The outbox table and its rules live in the store (`app/store/outbox.py`):
rows are ordered by id within a session, only a session's oldest pending row
is ever due, enqueueing anything supersedes the session's pending QR rows,
and dead rows wait for the operator's `retry_dead` (which supersedes a dead row that
something later of its session already overtook). The deliverer reaches
them through `OutboxStore`, whose methods are each one unit of work
(`next_work` is `next_due` and `next_wakeup` in one):

- `SqlOutbox` runs the store's repository functions in a worker thread, one
  transaction per call, so a busy SQLite file (another process holding the
  write lock) never stalls the engine's event loop. The reads (`next_due`,
  `next_wakeup`, `next_work`, `get`, `metrics`) open a read-only transaction
  (`app.store.db.read_only`): on SQLite they run beside the recorder's
  writes instead of queueing behind them for the write lock;
- `MemoryOutbox` keeps the same rules in memory, for tests and storeless demos.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.domain.outbox import DeliveryMetrics, OutboxDraft, OutboxItem, OutboxState
from app.store import outbox as repo
from app.store.db import read_only

T = TypeVar("T")
SessionIds = Collection[str] | None


class OutboxStore(Protocol):
    """The outbox operations the deliverer uses (semantics as in `app.store.outbox`)."""

    async def next_work(
        self, now: datetime, limit: int, *, session_ids: SessionIds = None
    ) -> tuple[list[OutboxItem], datetime | None]:
        """In one read: each session's oldest pending row if it is due (most overdue
        first), and when the earliest session head becomes due (maybe in the past;
        None if idle). The stores also offer the two halves, `next_due` and
        `next_wakeup`, on their own."""
        ...

    async def get(self, event_id: uuid.UUID) -> OutboxItem | None:
        """The row as stored now (the deliverer re-checks a QR just before sending it)."""
        ...

    async def mark_sent(self, event_id: uuid.UUID, *, now: datetime, status: int) -> None: ...

    async def mark_retry(
        self,
        event_id: uuid.UUID,
        *,
        now: datetime,
        next_attempt_at: datetime,
        error: str,
        status: int | None,
    ) -> None: ...

    async def mark_dead(
        self, event_id: uuid.UUID, *, now: datetime, status: int | None, error: str
    ) -> None: ...

    async def retry_dead(
        self, *, now: datetime, event_ids: Collection[uuid.UUID] | None = None
    ) -> int: ...

    async def metrics(self, now: datetime) -> DeliveryMetrics: ...


class SqlOutbox:
    """`OutboxStore` over the SQL store: each call is one committed transaction in a thread."""

    def __init__(self, *, sessions: sessionmaker[Session], in_thread: bool = True) -> None:
        self._sessions = sessions
        self._in_thread = in_thread

    async def _run(self, work: Callable[[Session], T]) -> T:
        def unit() -> T:
            with self._sessions.begin() as session:
                return work(session)

        return await asyncio.to_thread(unit) if self._in_thread else unit()

    async def _read(self, work: Callable[[Session], T]) -> T:
        def unit() -> T:
            with read_only(self._sessions) as session:
                return work(session)

        return await asyncio.to_thread(unit) if self._in_thread else unit()

    async def next_due(
        self, now: datetime, limit: int, *, session_ids: SessionIds = None
    ) -> list[OutboxItem]:
        return await self._read(lambda s: repo.next_due(s, now, limit, session_ids=session_ids))

    async def next_wakeup(self, *, session_ids: SessionIds = None) -> datetime | None:
        return await self._read(lambda s: repo.next_wakeup(s, session_ids=session_ids))

    async def next_work(
        self, now: datetime, limit: int, *, session_ids: SessionIds = None
    ) -> tuple[list[OutboxItem], datetime | None]:
        # One transaction and one worker-thread trip for both reads: the deliverer makes
        # one after every send, so under CPU load each trip saved is a wait for a core.
        def work(s: Session) -> tuple[list[OutboxItem], datetime | None]:
            due = repo.next_due(s, now, limit, session_ids=session_ids)
            return due, repo.next_wakeup(s, session_ids=session_ids)

        return await self._read(work)

    async def get(self, event_id: uuid.UUID) -> OutboxItem | None:
        return await self._read(lambda s: repo.get(s, event_id))

    async def mark_sent(self, event_id: uuid.UUID, *, now: datetime, status: int) -> None:
        await self._run(lambda s: repo.mark_sent(s, event_id, now=now, status=status))

    async def mark_retry(
        self,
        event_id: uuid.UUID,
        *,
        now: datetime,
        next_attempt_at: datetime,
        error: str,
        status: int | None,
    ) -> None:
        await self._run(
            lambda s: repo.mark_retry(
                s, event_id, now=now, next_attempt_at=next_attempt_at, error=error, status=status
            )
        )

    async def mark_dead(
        self, event_id: uuid.UUID, *, now: datetime, status: int | None, error: str
    ) -> None:
        await self._run(lambda s: repo.mark_dead(s, event_id, now=now, status=status, error=error))

    async def retry_dead(
        self, *, now: datetime, event_ids: Collection[uuid.UUID] | None = None
    ) -> int:
        return await self._run(lambda s: repo.retry_dead(s, now=now, event_ids=event_ids))

    async def metrics(self, now: datetime) -> DeliveryMetrics:
        return await self._read(lambda s: repo.metrics(s, now))


class MemoryOutbox:
    """`OutboxStore` in memory with the store's rules, plus `enqueue` and `items` for tests."""

    def __init__(self) -> None:
        self._rows: dict[int, OutboxItem] = {}
        self._ids = itertools.count(1)

    def enqueue(self, session_id: str, draft: OutboxDraft, *, now: datetime) -> OutboxItem:
        """Add a row; the session's pending QR and pairing code rows are superseded by it."""
        for row in list(self._rows.values()):
            if row.session_id == session_id and row.state is _PENDING and row.supersedable:
                self._rows[row.id] = replace(row, state=OutboxState.SUPERSEDED)
        item = OutboxItem(
            id=next(self._ids),
            event_id=draft.event_id,
            session_id=session_id,
            name=draft.name,
            payload=dict(draft.payload),
            created_at=now,
            next_attempt_at=now,
        )
        self._rows[item.id] = item
        return item

    def items(self, *, session_id: str | None = None) -> list[OutboxItem]:
        return [r for r in self._rows.values() if session_id in (None, r.session_id)]

    def row(self, event_id: uuid.UUID) -> OutboxItem:
        return next(r for r in self._rows.values() if r.event_id == event_id)

    async def get(self, event_id: uuid.UUID) -> OutboxItem | None:
        return next((r for r in self._rows.values() if r.event_id == event_id), None)

    def _heads(self, session_ids: SessionIds) -> list[OutboxItem]:
        heads: dict[str, OutboxItem] = {}
        for row in self._rows.values():  # insertion order is id order
            if row.state is _PENDING and row.session_id not in heads:
                if session_ids is None or row.session_id in session_ids:
                    heads[row.session_id] = row
        return list(heads.values())

    async def next_due(
        self, now: datetime, limit: int, *, session_ids: SessionIds = None
    ) -> list[OutboxItem]:
        due = [h for h in self._heads(session_ids) if h.next_attempt_at <= now]
        return sorted(due, key=lambda h: (h.next_attempt_at, h.id))[:limit]

    async def next_wakeup(self, *, session_ids: SessionIds = None) -> datetime | None:
        return min((h.next_attempt_at for h in self._heads(session_ids)), default=None)

    async def next_work(
        self, now: datetime, limit: int, *, session_ids: SessionIds = None
    ) -> tuple[list[OutboxItem], datetime | None]:
        due = await self.next_due(now, limit, session_ids=session_ids)
        return due, await self.next_wakeup(session_ids=session_ids)

    def _attempt(self, event_id: uuid.UUID, states: tuple[OutboxState, ...], **values: Any) -> None:
        row = self.row(event_id)
        if row.state in states:
            self._rows[row.id] = replace(row, attempts=row.attempts + 1, **values)

    async def mark_sent(self, event_id: uuid.UUID, *, now: datetime, status: int) -> None:
        states = (_PENDING, OutboxState.SUPERSEDED)
        self._attempt(event_id, states, state=OutboxState.SENT, sent_at=now, last_status=status)

    async def mark_retry(
        self,
        event_id: uuid.UUID,
        *,
        now: datetime,
        next_attempt_at: datetime,
        error: str,
        status: int | None,
    ) -> None:
        self._attempt(
            event_id,
            (_PENDING,),
            next_attempt_at=next_attempt_at,
            last_attempt_at=now,
            last_error=error,
            last_status=status,
        )

    async def mark_dead(
        self, event_id: uuid.UUID, *, now: datetime, status: int | None, error: str
    ) -> None:
        self._attempt(
            event_id,
            (_PENDING,),
            state=OutboxState.DEAD,
            last_attempt_at=now,
            last_error=error,
            last_status=status,
        )

    async def retry_dead(
        self, *, now: datetime, event_ids: Collection[uuid.UUID] | None = None
    ) -> int:
        rows = list(self._rows.values())
        chosen = [
            r
            for r in rows
            if r.state is OutboxState.DEAD and (event_ids is None or r.event_id in event_ids)
        ]
        count = 0
        for row in chosen:  # decided on the rows as they were before this retry
            later = [r for r in rows if r.session_id == row.session_id and r.id > row.id]
            if row.supersedable and later:
                reason = repo.STALE_QR
            elif any(r.state in (_PENDING, OutboxState.SENT) for r in later):
                reason = repo.OVERTAKEN
            else:
                self._rows[row.id] = replace(row, state=_PENDING, attempts=0, next_attempt_at=now)
                count += 1
                continue
            self._rows[row.id] = replace(row, state=OutboxState.SUPERSEDED, last_error=reason)
        return count

    async def metrics(self, now: datetime) -> DeliveryMetrics:
        rows = list(self._rows.values())
        pending = [r for r in rows if r.state is _PENDING]
        oldest = min((r.created_at for r in pending), default=None)
        errors = [r for r in rows if r.last_error and r.last_attempt_at is not None]
        last = max(errors, key=lambda r: (r.last_attempt_at, r.id), default=None)
        return DeliveryMetrics(
            pending=len(pending),
            oldest_pending_age=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            delivered=sum(r.state is OutboxState.SENT for r in rows),
            dead=sum(r.state is OutboxState.DEAD for r in rows),
            superseded=sum(r.state is OutboxState.SUPERSEDED for r in rows),
            last_error=last.last_error if last else "",
            last_error_at=last.last_attempt_at if last else None,
        )


_PENDING = OutboxState.PENDING
