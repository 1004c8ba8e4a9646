"""The session state machine of docs/SESSIONS.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.states import (
    CENTRAL_STATUS,
    NO_RETRY_REASONS,
    TERMINAL_SOCKET_STATES,
    TRANSITIONS,
    CentralStatus,
    IllegalTransition,
    Reason,
    SessionLifecycle,
    SessionState,
    can_transition,
)

S = SessionState
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEGAL = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
ILLEGAL = sorted((a, b) for a in S for b in S if b not in TRANSITIONS[a])


def test_central_status_of_every_state() -> None:
    assert {state: CENTRAL_STATUS[state] for state in S} == {
        S.STOPPED: CentralStatus.DISCONNECTED,
        S.STARTING: CentralStatus.QR_SCANNING,
        S.QR: CentralStatus.QR_SCANNING,
        S.QR_IDLE: CentralStatus.QR_SCANNING,
        S.PAIRING: CentralStatus.AUTHENTICATED,
        S.PASSKEY_REQUIRED: CentralStatus.AUTHENTICATED,
        S.CONNECTED: CentralStatus.CONNECTED,
        S.DISCONNECTED: CentralStatus.DISCONNECTED,
        S.LOGGED_OUT: CentralStatus.DISCONNECTED,
        S.FAILED: CentralStatus.FAILED,
    }
    assert all(state.central_status is CENTRAL_STATUS[state] for state in S)


def test_reason_codes_are_the_documented_ones() -> None:
    assert [r.value for r in Reason] == [
        "LOGOUT",
        "CONFLICT",
        "qr_expired",
        "qr_limit",
        "browser_crash",
        "instance_restart",
        "timeout",
        "state_corrupt",
        "user_initiated",
        "error",
        "PROXYBLOCK",
        "TOS_BLOCK",
        "SMB_TOS_BLOCK",
        "DEPRECATED_VERSION",
        "proxy_unreachable",
        "passkey_required",
        "disk_full",
        "awaiting_member",
        "no_member",
    ]


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=lambda s: str(s))
def test_every_legal_transition_moves(current: SessionState, target: SessionState) -> None:
    life = SessionLifecycle(current)
    step = life.move(target, Reason.USER_INITIATED, T0, "why")
    assert life.state is target and step.state is target and step.detail == "why"
    assert life.history == (step,)


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=lambda s: str(s))
def test_every_illegal_transition_raises(current: SessionState, target: SessionState) -> None:
    life = SessionLifecycle(current)
    with pytest.raises(IllegalTransition, match=f"{current} -> {target}"):
        life.move(target, None, T0)
    assert life.state is current and life.history == ()


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.STOPPED, S.CONNECTED),  # a stopped session must start first
        (S.STOPPED, S.FAILED),  # nothing ran, nothing can have failed
        (S.LOGGED_OUT, S.CONNECTED),  # needs a new QR
        (S.QR_IDLE, S.PAIRING),  # an idle QR cannot be scanned
        (S.FAILED, S.CONNECTED),  # an operator restarts it first
    ],
)
def test_notable_illegal_transitions(current: SessionState, target: SessionState) -> None:
    assert not can_transition(current, target)


def test_operator_can_always_stop_and_engine_can_always_give_up() -> None:
    for state in S:
        assert can_transition(state, S.STOPPED)
        if state is not S.STOPPED:
            assert can_transition(state, S.FAILED)


def test_everything_reachable_and_recoverable() -> None:
    def reachable(start: SessionState) -> set[SessionState]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reachable(S.STOPPED) == set(S)
    for state in S:  # no dead end: every state can get back to connected
        assert S.CONNECTED in reachable(state)


def test_state_flags() -> None:
    assert {s for s in S if s.waiting_for_scan} == {S.QR, S.QR_IDLE}
    assert {s for s in S if s.needs_operator} == {S.LOGGED_OUT, S.FAILED, S.PASSKEY_REQUIRED}


def test_gate_reasons() -> None:
    assert TERMINAL_SOCKET_STATES == {
        "PROXYBLOCK": Reason.PROXYBLOCK,
        "TOS_BLOCK": Reason.TOS_BLOCK,
        "SMB_TOS_BLOCK": Reason.SMB_TOS_BLOCK,
        "DEPRECATED_VERSION": Reason.DEPRECATED_VERSION,
    }
    assert NO_RETRY_REASONS == {*TERMINAL_SOCKET_STATES.values(), Reason.PROXY_UNREACHABLE}
    # The passkey is waited for with the page open, and finished or refused from there.
    assert S.PASSKEY_REQUIRED.running
    assert can_transition(S.PAIRING, S.PASSKEY_REQUIRED)
    assert can_transition(S.PASSKEY_REQUIRED, S.CONNECTED)
    assert can_transition(S.PASSKEY_REQUIRED, S.QR)
    assert not can_transition(S.STOPPED, S.PASSKEY_REQUIRED)


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=60))
def test_random_legal_walks_keep_bounded_ordered_history(choices: list[int]) -> None:
    life = SessionLifecycle()
    at = T0
    taken = []
    for choice in choices:
        options = sorted(TRANSITIONS[life.state])
        target = options[choice % len(options)]
        at += timedelta(seconds=1)
        taken.append(life.move(target, None, at))
        assert life.state is target
    assert life.history == tuple(taken[-SessionLifecycle.HISTORY :])
    assert [t.at for t in life.history] == sorted(t.at for t in life.history)


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_move_agrees_with_the_table(current: SessionState, target: SessionState) -> None:
    life = SessionLifecycle(current)
    if target in TRANSITIONS[current]:
        life.move(target, None, T0)
        assert life.state is target
    else:
        with pytest.raises(IllegalTransition):
            life.move(target, None, T0)
        assert life.state is current
