"""Engine events survive serialisation (SSE, logs, cross-thread queues) unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.events import (
    EVENT_TYPES,
    EngineEvent,
    InstanceLoad,
    PairingCodeIssued,
    QrIssued,
    ReconcileReport,
    SessionError,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
    SyncStatus,
    event_from_dict,
    event_to_dict,
)
from app.domain.states import Reason, SessionState

T0 = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)

EXAMPLES: list[EngineEvent] = [
    PairingCodeIssued(
        session_id="s",
        workspace_id=2,
        code="K7Q2M9XD",
        phone="6281234567890",
        expires_at=T0 + timedelta(seconds=180),
        code_count=2,
        at=T0,
    ),
    SessionStateChanged(
        session_id="webjs_1_1700000000_abcdefgh",
        workspace_id=1,
        state=SessionState.DISCONNECTED,
        previous=SessionState.CONNECTED,
        reason=Reason.CONFLICT,
        detail="another browser took over",
        at=T0,
    ),
    SessionStateChanged(session_id="s", workspace_id=2, state=SessionState.STARTING, at=T0),
    QrIssued(
        session_id="s",
        workspace_id=2,
        qr="2@abc,def,ghi,jkl,WEB",
        expires_at=T0 + timedelta(seconds=60),
        qr_count=1,
        at=T0,
    ),
    SessionReady(session_id="s", workspace_id=2, phone_number="6281", restored=True, at=T0),
    SessionError(session_id="s", workspace_id=2, error="qr_limit", message="m", at=T0),
    SessionHeartbeat(session_id="s", latency_ms=4.5, memory_bytes=10, at=T0),
    InstanceLoad(instance_id="i0", cpu_percent=12.5, sessions_total=3, at=T0),
    SyncStatus(enabled=True, pending=2, last_error="HTTP 503", at=T0),
    ReconcileReport(expected_missing=("a",), unexpected=("b", "c"), expected=1, local=2, at=T0),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip_through_json(event: EngineEvent) -> None:
    wire = json.loads(json.dumps(event_to_dict(event)))
    assert wire["type"] == event.type
    assert event_from_dict(wire) == event


def test_every_event_type_has_an_example() -> None:
    assert {type(e) for e in EXAMPLES} == set(EVENT_TYPES.values())


def test_wire_form_uses_codes_and_iso_times() -> None:
    wire = event_to_dict(EXAMPLES[1])
    assert wire["state"] == "disconnected" and wire["reason"] == "CONFLICT"
    assert wire["at"] == "2026-05-01T08:30:00+00:00"


def test_qr_expires_in() -> None:
    qr = EXAMPLES[3]
    assert isinstance(qr, QrIssued) and qr.expires_in == 60.0


def test_unknown_type_and_extra_keys() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        event_from_dict({"type": "nope"})
    wire = event_to_dict(EXAMPLES[6]) | {"added_later": 1}
    assert event_from_dict(wire) == EXAMPLES[6]


def test_pairing_code_is_shown_as_the_page_shows_it() -> None:
    code = EXAMPLES[0]
    assert isinstance(code, PairingCodeIssued)
    assert code.display_code == "K7Q2-M9XD" and code.expires_in == 180.0


@given(
    session_id=st.text(min_size=1, max_size=40),
    workspace_id=st.integers(min_value=1, max_value=2**63 - 1),
    state=st.sampled_from(list(SessionState)),
    previous=st.none() | st.sampled_from(list(SessionState)),
    reason=st.none() | st.sampled_from(list(Reason)),
    detail=st.text(max_size=80),
    at=st.datetimes(timezones=st.just(UTC)),
)
def test_state_changes_round_trip(
    session_id: str,
    workspace_id: int,
    state: SessionState,
    previous: SessionState | None,
    reason: Reason | None,
    detail: str,
    at: datetime,
) -> None:
    event = SessionStateChanged(
        session_id=session_id,
        workspace_id=workspace_id,
        state=state,
        previous=previous,
        reason=reason,
        detail=detail,
        at=at,
    )
    again = event_from_dict(json.loads(json.dumps(event_to_dict(event))))
    assert again == event and isinstance(again, SessionStateChanged)
    assert again.state is state and again.reason is reason
