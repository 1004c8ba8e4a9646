"""Fixtures of the sync tests: a fake clock, domain events of every kind, a SQLite outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.domain.events import EngineEvent, QrIssued, SessionError, SessionReady, SessionStateChanged
from app.domain.states import Reason, SessionState
from app.store import create_engine_for, session_factory, upgrade

SECRET = "sync-test-secret-7f3a9c"
START = 1_800_000_000.0  # a fixed unix time, so tests never depend on the wall clock


class FakeClock:
    """Unix seconds that only move when a test (or the deliverer's sleep) moves them."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def qr_event(session_id: str, n: int, at: datetime, workspace_id: int = 7) -> QrIssued:
    return QrIssued(
        session_id=session_id,
        workspace_id=workspace_id,
        qr=f"2@ref{n}-{session_id},bm9pc2U=,aWRlbnRpdHk=,YWR2,WEB",
        at=at,
        expires_at=at + timedelta(seconds=60 if n == 1 else 20),
        qr_count=n,
        is_regeneration=n > 1,
    )


def all_kinds(session_id: str, at: datetime, workspace_id: int = 7) -> list[EngineEvent]:
    """One domain event for each webhook of the contract, in a plausible order."""
    return [
        qr_event(session_id, 1, at, workspace_id),
        SessionStateChanged(
            session_id=session_id,
            workspace_id=workspace_id,
            state=SessionState.PAIRING,
            previous=SessionState.QR,
            at=at,
        ),
        SessionReady(
            session_id=session_id,
            workspace_id=workspace_id,
            phone_number="+62 812-3456-7890",
            platform="android",
            extraction_method="modules",
            at=at,
        ),
        SessionStateChanged(
            session_id=session_id,
            workspace_id=workspace_id,
            state=SessionState.DISCONNECTED,
            previous=SessionState.CONNECTED,
            reason=Reason.CONFLICT,
            at=at,
        ),
        SessionError(
            session_id=session_id,
            workspace_id=workspace_id,
            error="browser_crash",
            message="The browser crashed twice; pairdesk will retry in a minute.",
            at=at,
        ),
    ]


@pytest.fixture
def sql_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database in tmp_path (the store's real outbox table)."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'pairdesk.db'}")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()
