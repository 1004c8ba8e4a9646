"""Timeline repository: the diagnostics history and the lifecycle rebuilt from it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.domain.models import AccountSpec
from app.domain.states import IllegalTransition, Reason, SessionLifecycle, SessionState
from app.store import AccountNotFound, accounts, timeline

S = SessionState


def _flapping(session: Session, now: datetime, rounds: int) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=1, session_id="f"), now=now)
    at = now
    for _ in range(rounds):
        for target, reason in (
            (S.STARTING, None),
            (S.CONNECTED, None),
            (S.DISCONNECTED, Reason.BROWSER_CRASH),
        ):
            at += timedelta(seconds=1)
            accounts.record_transition(session, "f", target, at=at, reason=reason)


def test_list_events_latest_window_oldest_first(session: Session, now: datetime) -> None:
    _flapping(session, now, rounds=5)
    session.commit()
    everything = timeline.list_events(session, "f")
    assert len(everything) == 16 and everything[0].detail == "account created"
    last4 = timeline.list_events(session, "f", limit=4)
    assert last4 == everything[-4:]
    assert [e.at for e in last4] == sorted(e.at for e in last4)
    since = timeline.list_events(session, "f", since=now + timedelta(seconds=14))
    assert [e.state for e in since] == [S.CONNECTED, S.DISCONNECTED]
    assert since[-1].reason is Reason.BROWSER_CRASH and since[-1].previous is S.CONNECTED


def test_load_lifecycle_resumes_where_stored(session: Session, now: datetime) -> None:
    _flapping(session, now, rounds=4)
    session.commit()
    life = timeline.load_lifecycle(session, "f")
    assert life.state is S.DISCONNECTED
    assert len(life.history) == SessionLifecycle.HISTORY
    assert life.history[-1].reason is Reason.BROWSER_CRASH
    assert timeline.recent_transitions(session, "f", 2) == list(life.history[-2:])
    life.move(S.STARTING, Reason.INSTANCE_RESTART, now)
    with pytest.raises(IllegalTransition):
        life.move(S.QR_IDLE, None, now)  # starting -> qr_idle skips the QR
    with pytest.raises(AccountNotFound):
        timeline.load_lifecycle(session, "missing")


def test_prune(session: Session, now: datetime) -> None:
    _flapping(session, now, rounds=2)
    removed = timeline.prune_events(session, older_than=now + timedelta(seconds=3))
    assert removed == 3  # created, starting, connected of the first round
    assert len(timeline.list_events(session, "f")) == 4


def test_bad_values_refused_by_the_database(session: Session, now: datetime) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=1, session_id="v"), now=now)
    with pytest.raises(ValueError):
        timeline.append_event(
            session,
            session_id="v",
            state="zombie",  # type: ignore[arg-type]
            previous=None,
            reason=None,
            at=now,
        )
