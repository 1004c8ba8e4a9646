"""Retrying dead events never regresses the platform: the same rule in memory and in SQL.

A dead row does not hold back later rows of its session. When the operator
retries it later, it goes out again only if nothing later of its session was
sent or is pending; otherwise it is `superseded` with the reason kept.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.domain.outbox import OutboxDraft, OutboxState
from app.store import outbox as repo
from app.sync.client import Outcome, PostResult
from app.sync.deliverer import OutboxDeliverer
from app.sync.outbox import MemoryOutbox, OutboxStore, SqlOutbox
from app.sync.payloads import Webhook

from .conftest import FakeClock

OVERTAKEN = "a newer event for this session was already delivered"


class Harness:
    """One outbox (memory or SQL) with helpers to enqueue and read rows."""

    def __init__(self, kind: str, clock: FakeClock, sessions: sessionmaker[Session]) -> None:
        self.clock = clock
        self.memory = MemoryOutbox() if kind == "memory" else None
        self.sessions = sessions
        self.store: OutboxStore = self.memory or SqlOutbox(sessions=sessions, in_thread=False)

    def put(self, sid: str, name: str) -> uuid.UUID:
        draft = OutboxDraft(name=name, payload={"session_id": sid, "workspace_id": 7})
        if self.memory is not None:
            return self.memory.enqueue(sid, draft, now=self.clock.datetime()).event_id
        with self.sessions.begin() as session:
            return repo.enqueue(
                session,
                event_id=draft.event_id,
                session_id=sid,
                name=name,
                payload=draft.payload,
                now=self.clock.datetime(),
            ).event_id

    async def state(self, event_id: uuid.UUID) -> tuple[OutboxState, str]:
        row = await self.store.get(event_id)
        assert row is not None
        return row.state, row.last_error

    async def dead(self, event_id: uuid.UUID) -> None:
        await self.store.mark_dead(
            event_id, now=self.clock.datetime(), status=422, error="HTTP 422"
        )

    async def sent(self, event_id: uuid.UUID) -> None:
        await self.store.mark_sent(event_id, now=self.clock.datetime(), status=200)


@pytest.fixture(params=["memory", "sql"])
def h(
    request: pytest.FixtureRequest, clock: FakeClock, sql_sessions: sessionmaker[Session]
) -> Harness:
    return Harness(request.param, clock, sql_sessions)


async def test_dead_row_overtaken_by_a_delivered_one_is_superseded(h: Harness) -> None:
    old = h.put("s1", "session_authenticated")
    await h.dead(old)
    new = h.put("s1", "session_disconnected")
    await h.sent(new)
    assert await h.store.retry_dead(now=h.clock.datetime()) == 0
    state, why = await h.state(old)
    assert state is OutboxState.SUPERSEDED and OVERTAKEN in why


async def test_dead_row_overtaken_by_a_pending_one_is_superseded(h: Harness) -> None:
    old = h.put("s1", "session_authenticated")
    await h.dead(old)
    h.put("s1", "session_ready")
    assert await h.store.retry_dead(now=h.clock.datetime(), event_ids=[old]) == 0
    assert (await h.state(old))[0] is OutboxState.SUPERSEDED


async def test_dead_rows_retried_together_keep_their_order(h: Harness) -> None:
    first = h.put("s1", "session_authenticated")
    await h.dead(first)
    second = h.put("s1", "session_ready")
    await h.dead(second)
    other = h.put("s2", "session_error")
    await h.dead(other)
    later = h.clock.datetime() + timedelta(minutes=1)
    assert await h.store.retry_dead(now=later) == 3
    heads = await h.store.next_due(later, 10)
    assert {(i.session_id, i.event_id) for i in heads} == {("s1", first), ("s2", other)}


async def test_a_dead_qr_with_anything_after_it_stays_unsent(h: Harness) -> None:
    qr = h.put("s1", "qr_code_generated")
    await h.dead(qr)
    nxt = h.put("s1", "qr_code_generated")
    await h.dead(nxt)
    assert await h.store.retry_dead(now=h.clock.datetime()) == 1
    assert (await h.state(qr))[0] is OutboxState.SUPERSEDED
    assert (await h.state(nxt))[0] is OutboxState.PENDING


class Refusing:
    """A central API that refuses `session_authenticated` until fixed, accepts the rest."""

    def __init__(self) -> None:
        self.fixed = False
        self.accepted: list[str] = []

    async def connect(self) -> bool:
        return True

    async def post(self, webhook: Webhook) -> PostResult:
        if webhook.name == "session_authenticated" and not self.fixed:
            return PostResult(Outcome.DEAD, 422, "HTTP 422: data.status is wrong")
        self.accepted.append(webhook.name)
        return PostResult(Outcome.ACCEPTED, 200)


async def test_the_platform_never_sees_an_old_state_after_a_newer_one(
    h: Harness, clock: FakeClock
) -> None:
    api = Refusing()
    deliverer = OutboxDeliverer(store=h.store, client=api, clock=clock, sleep=clock.sleep)
    h.put("s1", "session_authenticated")
    await deliverer.drain()
    h.put("s1", "session_ready")
    await deliverer.drain()
    assert api.accepted == ["session_ready"]
    api.fixed = True
    assert await deliverer.retry_dead() == 0
    await deliverer.drain()
    assert api.accepted == ["session_ready"]  # "authenticated" never lands after "connected"
    status = await deliverer.status()
    assert (status.dead, status.pending, status.delivered) == (0, 0, 1)
