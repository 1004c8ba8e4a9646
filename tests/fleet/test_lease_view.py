"""What a session is as far as the fleet knows (`app/fleet/lease_view.py`): the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.states import Reason, SessionState
from app.fleet.lease_view import LeaseHealth, LeaseView, fleet_state, meant_to_run
from app.fleet.leases import MemberInfo

S = SessionState
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _member(name: str, *, sessions: int = 0, capacity: int = 10, **kw: object) -> MemberInfo:
    values: dict[str, object] = {
        "advertise_url": f"http://{name}",
        "host": "h",
        "pid": 1,
        "draining": False,
        "alive": True,
        "heartbeat_at": NOW,
    } | kw
    return MemberInfo(name=name, capacity=capacity, sessions=sessions, **values)  # type: ignore[arg-type]


def test_lease_view_judges_by_the_database_clock() -> None:
    held = LeaseView.of("m1", NOW + timedelta(seconds=1), NOW)
    assert (held.health, held.owner, held.seconds_since_expiry) == (LeaseHealth.HELD, "m1", None)
    expired = LeaseView.of("m1", NOW - timedelta(seconds=12.34), NOW)
    assert (expired.health, expired.owner, expired.seconds_since_expiry) == (
        LeaseHealth.EXPIRED,
        "m1",
        12.3,
    )
    assert LeaseView.of("m1", NOW, NOW).health is LeaseHealth.EXPIRED  # expiry is exclusive
    unowned = LeaseView.of(None, NOW - timedelta(seconds=3), NOW)
    assert (unowned.health, unowned.seconds_since_expiry) == (LeaseHealth.UNOWNED, 3.0)
    assert LeaseView.of(None, None, NOW).seconds_since_expiry is None


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        (S.CONNECTED, None, True),
        (S.QR, None, True),
        (S.DISCONNECTED, Reason.TIMEOUT, True),
        (S.STOPPED, Reason.INSTANCE_RESTART, True),  # closed on its member's way out
        (S.STOPPED, Reason.USER_INITIATED, False),
        (S.LOGGED_OUT, Reason.LOGOUT, False),
        (S.FAILED, Reason.TOS_BLOCK, False),
    ],
)
def test_only_sessions_meant_to_run_are_rewritten(
    state: SessionState, reason: Reason | None, expected: bool
) -> None:
    assert meant_to_run(state, reason) is expected
    lapsed = LeaseView.of("m1", NOW - timedelta(seconds=30), NOW)
    seen = fleet_state(
        state=state, reason=reason, instance_id="m1", lease=lapsed, members=[_member("m2")]
    )
    if expected:
        assert (seen.state, seen.reason) == (S.DISCONNECTED, Reason.AWAITING_MEMBER)
        assert seen.detail
    else:
        assert (seen.state, seen.reason, seen.detail) == (state, reason, "")


def test_a_held_lease_leaves_the_stored_state_alone() -> None:
    lease = LeaseView.of("m1", NOW + timedelta(seconds=5), NOW)
    seen = fleet_state(
        state=S.CONNECTED, reason=None, instance_id="m1", lease=lease, members=[_member("m1")]
    )
    assert (seen.state, seen.reason, seen.detail) == (S.CONNECTED, None, "")


def test_a_claim_not_yet_opened_by_its_new_owner_waits_for_it() -> None:
    lease = LeaseView.of("m2", NOW + timedelta(seconds=5), NOW)
    seen = fleet_state(
        state=S.CONNECTED, reason=None, instance_id="m1", lease=lease, members=[_member("m2")]
    )
    assert (seen.state, seen.reason) == (S.DISCONNECTED, Reason.AWAITING_MEMBER)
    assert "m2 took it over from m1" in seen.detail


def test_an_expired_lease_waits_for_another_member_with_room() -> None:
    lease = LeaseView.of("m1", NOW - timedelta(seconds=4), NOW)
    members = [_member("m1", alive=False), _member("m2", sessions=9, capacity=10)]
    seen = fleet_state(
        state=S.CONNECTED, reason=None, instance_id="m1", lease=lease, members=members
    )
    assert (seen.state, seen.reason) == (S.DISCONNECTED, Reason.AWAITING_MEMBER)
    assert "m1 stopped renewing its lease 4 s ago" in seen.detail
    assert "waiting for another member to take it over" in seen.detail


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([], "no fleet member is alive"),
        ([_member("m1", alive=False)], "no fleet member is alive"),
        ([_member("m2", draining=True)], "no fleet member is alive (or every one is draining)"),
        ([_member("m2", sessions=3, capacity=3)], "all 1 live member(s) are full"),
    ],
)
def test_no_member_with_room_says_so_and_what_to_do(members: list[MemberInfo], why: str) -> None:
    lease = LeaseView.of(None, NOW - timedelta(seconds=1), NOW)
    seen = fleet_state(
        state=S.CONNECTED, reason=None, instance_id="m1", lease=lease, members=members
    )
    assert (seen.state, seen.reason) == (S.DISCONNECTED, Reason.NO_MEMBER)
    assert why in seen.detail and "start another member or raise max_sessions" in seen.detail
