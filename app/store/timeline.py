"""The per-session timeline (`session_events`): every transition with its reason.

Diagnostics reads it to answer "how did this session get here"; the engine
rebuilds a `SessionLifecycle` (state plus recent history) from it after a
restart. Rows are appended by `accounts.record_transition` in the same
transaction that changes the account, never on their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.domain.models import TimelineEntry
from app.domain.states import Reason, SessionLifecycle, SessionState, Transition
from app.store.errors import AccountNotFound
from app.store.models import Account, SessionEvent

__all__ = [
    "append_event",
    "list_events",
    "load_lifecycle",
    "prune_events",
    "recent_transitions",
]


def _to_entry(row: SessionEvent) -> TimelineEntry:
    return TimelineEntry(
        session_id=row.session_id,
        state=SessionState(row.state),
        previous=SessionState(row.previous) if row.previous else None,
        reason=Reason(row.reason) if row.reason else None,
        at=row.at,
        detail=row.detail,
    )


def append_event(
    session: Session,
    *,
    session_id: str,
    state: SessionState,
    previous: SessionState | None,
    reason: Reason | None,
    at: datetime,
    detail: str = "",
) -> TimelineEntry:
    """Append one step; the account must exist (foreign key)."""
    row = SessionEvent(
        session_id=session_id,
        state=SessionState(state).value,
        previous=SessionState(previous).value if previous is not None else None,
        reason=Reason(reason).value if reason is not None else None,
        detail=detail,
        at=at,
    )
    session.add(row)
    session.flush()
    return _to_entry(row)


def list_events(
    session: Session, session_id: str, *, limit: int = 200, since: datetime | None = None
) -> list[TimelineEntry]:
    """The last `limit` steps of a session (optionally from `since` on), oldest first."""
    stmt = select(SessionEvent).where(SessionEvent.session_id == session_id)
    if since is not None:
        stmt = stmt.where(SessionEvent.at >= since)
    rows = list(session.scalars(stmt.order_by(SessionEvent.id.desc()).limit(limit)))
    return [_to_entry(row) for row in reversed(rows)]


def recent_transitions(
    session: Session, session_id: str, limit: int = SessionLifecycle.HISTORY
) -> list[Transition]:
    """The last steps as the state machine's `Transition` values, oldest first."""
    return [
        Transition(entry.state, entry.reason, entry.at, entry.detail)
        for entry in list_events(session, session_id, limit=limit)
    ]


def load_lifecycle(session: Session, session_id: str) -> SessionLifecycle:
    """A state machine positioned at the account's stored state, with its recent history."""
    state = session.scalar(select(Account.state).where(Account.session_id == session_id))
    if state is None:
        raise AccountNotFound(session_id)
    return SessionLifecycle(SessionState(state), recent_transitions(session, session_id))


def prune_events(session: Session, *, older_than: datetime) -> int:
    """Delete timeline rows recorded before `older_than`; returns how many."""
    result = session.execute(
        delete(SessionEvent)
        .where(SessionEvent.at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
