"""Small engine events for tests that feed views and streams by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.events import QrIssued, SessionStateChanged
from app.domain.states import SessionState

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def state_event(sid: str, state: SessionState, at: datetime = NOW) -> SessionStateChanged:
    return SessionStateChanged(session_id=sid, workspace_id=1, state=state, at=at)


def qr_event(sid: str, count: int, at: datetime = NOW) -> QrIssued:
    return QrIssued(
        session_id=sid,
        workspace_id=1,
        qr=f"ref{count},a,b,c,WEB",
        expires_at=at + timedelta(seconds=20),
        qr_count=count,
        at=at,
    )
