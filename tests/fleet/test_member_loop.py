"""The member's lease loop with fakes: what it stops, when, and when it gives up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.engine.vault import SealedUnreadable
from app.fleet.leases import Lease, MemberInfo
from app.fleet.member import REBALANCE_STEP, FleetMember, MemberFenced
from app.fleet.rendezvous import first_choice

TTL, MARGIN = 9.0, 1.0


class FakeLeases:
    ttl, grace, patience = TTL, 2.0, TTL / 3

    def __init__(self) -> None:
        self.renewable: list[str] = []
        self.down = False
        self.released: list[str] = []

    def register(self, *args: Any, **kwargs: Any) -> None: ...

    def renew(self, name: str) -> list[Lease]:
        if self.down:
            raise ConnectionError("database unreachable")
        return [Lease(s, name, 1, datetime.now(UTC)) for s in self.renewable]

    def is_draining(self, name: str) -> bool:
        return False

    def claim(self, name: str, *, capacity: int, batch: int) -> list[Lease]:
        return []

    def release(self, name: str, session_ids: Any = None) -> int:
        self.released.append(name)
        return 0

    def unregister(self, name: str) -> None: ...

    def members(self) -> list[MemberInfo]:
        return list(self.fleet)

    fleet: list[MemberInfo] = []


class FakeInstance:
    def __init__(self) -> None:
        self.dropped: list[str] = []
        self.rows: dict[str, SessionInfo] = {}
        self.sessions = self

    def live(self) -> dict[str, SessionInfo]:
        return dict(self.rows)

    async def drop_session(self, session_id: str) -> None:
        self.dropped.append(session_id)

    async def flush(self) -> None: ...


class FakeWatchdog:
    def __init__(self) -> None:
        self.armed: float | None = None

    def arm(self, deadline: float) -> None:
        self.armed = deadline

    def disarm(self) -> None:
        self.armed = None


class Clock:
    t = 1000.0

    def __call__(self) -> float:
        return self.t


def _member(tmp_path: Path, held: dict[str, int]) -> tuple[FleetMember, Any, Any, Any, Clock]:
    leases, instance, dog, clock = FakeLeases(), FakeInstance(), FakeWatchdog(), Clock()
    member = FleetMember(
        name="m1",
        advertise_url="http://m1/",
        capacity=10,
        batch=5,
        margin=MARGIN,
        sessions_dir=tmp_path,
        leases=leases,
        store=None,
        instance=instance,  # type: ignore[arg-type]
        snapshots=None,
        watchdog=dog,
        epochs=held,
        clock=clock,  # type: ignore[arg-type]
    )
    return member, leases, instance, dog, clock


async def test_a_session_the_renewal_does_not_return_is_stopped_at_once(tmp_path: Path) -> None:
    held = {"a": 1, "b": 1}
    member, leases, instance, dog, clock = _member(tmp_path, held)
    leases.renewable = ["a"]
    await member.tick()
    assert instance.dropped == ["b"] and held == {"a": 1}
    assert dog.armed == clock.t + TTL - MARGIN


async def test_without_the_database_pages_stop_one_margin_before_the_watchdog(
    tmp_path: Path,
) -> None:
    held = {"a": 1}
    member, leases, instance, dog, clock = _member(tmp_path, held)
    leases.renewable = ["a"]
    await member.tick()
    deadline = dog.armed
    leases.down = True
    clock.t = deadline - MARGIN - 0.5
    await member.tick()
    assert instance.dropped == [] and dog.armed == deadline  # still within its lease
    clock.t = deadline - MARGIN
    await member.tick()
    assert instance.dropped == ["a"] and held == {}
    assert dog.armed is None  # nothing left to kill


async def test_waking_past_the_deadline_gives_everything_up(tmp_path: Path) -> None:
    held = {"a": 1}
    member, leases, instance, dog, clock = _member(tmp_path, held)
    leases.renewable = ["a"]
    await member.tick()
    clock.t = dog.armed + 5  # frozen through the deadline: the watchdog fired
    with pytest.raises(MemberFenced, match="exits so its supervisor restarts it"):
        await member.tick()
    assert held == {}


async def test_claims_batch_after_batch_within_one_round_up_to_capacity(tmp_path: Path) -> None:
    held: dict[str, int] = {}
    member, leases, _, dog, clock = _member(tmp_path, held)
    pool = [f"s{i}" for i in range(23)]
    calls: list[int] = []

    def claim(name: str, *, capacity: int, batch: int) -> list[Lease]:
        calls.append(batch)
        room = min(batch, capacity - len(held))
        taken, pool[:] = pool[:room], pool[room:]
        return [Lease(s, name, 1, datetime.now(UTC)) for s in taken]

    leases.claim = claim
    member._adopt = _no_adopt  # type: ignore[method-assign]
    await member.tick()
    assert len(held) == 10  # capacity, in one round
    assert calls == [5, 5]
    assert dog.armed == clock.t + TTL - MARGIN


async def _no_adopt(lease: Lease) -> None:
    return None


def _info(name: str, sessions: int, *, capacity: int = 10) -> MemberInfo:
    now = datetime.now(UTC)
    return MemberInfo(name, f"http://{name}/", "host", 1, capacity, False, True, sessions, now)


async def test_a_member_above_its_share_hands_connected_sessions_to_their_first_choice(
    tmp_path: Path,
) -> None:
    sids = [f"s{i}" for i in range(8)]
    held = dict.fromkeys(sids, 1)
    member, leases, instance, _, _ = _member(tmp_path, held)
    leases.renewable = sids
    leases.fleet = [_info("m1", 8), _info("new", 0)]
    scanning = next(s for s in sids if first_choice(s, ["m1", "new"]) == "new")
    for sid in sids:
        state = SessionState.QR if sid == scanning else SessionState.CONNECTED
        instance.rows[sid] = SessionInfo(session_id=sid, workspace_id=1, state=state)
    member._ship_changed = _nothing  # type: ignore[method-assign]
    await member.tick()
    assert 0 < len(instance.dropped) <= REBALANCE_STEP
    assert all(first_choice(s, ["m1", "new"]) == "new" for s in instance.dropped)
    assert scanning not in instance.dropped  # a QR someone may be scanning stays put
    assert leases.released and not set(instance.dropped) & set(held)


async def test_a_member_at_its_share_moves_nothing(tmp_path: Path) -> None:
    held = {"a": 1, "b": 1}
    member, leases, instance, _, _ = _member(tmp_path, held)
    leases.renewable = ["a", "b"]
    leases.fleet = [_info("m1", 2), _info("other", 2)]
    for sid in held:
        instance.rows[sid] = SessionInfo(
            session_id=sid, workspace_id=1, state=SessionState.CONNECTED
        )
    await member.tick()
    assert instance.dropped == []


async def _nothing() -> None:
    return None


class FakeStore:
    def assign(self, session_id: str, epoch: int) -> SessionInfo:
        return SessionInfo(session_id=session_id, workspace_id=1, state=SessionState.CONNECTED)


class OtherKeySnapshots:
    def get(self, session_id: str) -> bytes:
        raise SealedUnreadable(session_id)


async def test_a_snapshot_sealed_with_another_fleet_key_fails_the_session_saying_why(
    tmp_path: Path,
) -> None:
    member, _, instance, _, _ = _member(tmp_path, {"a": 3})
    member._store = FakeStore()  # type: ignore[assignment]
    member._snapshots = OtherKeySnapshots()  # type: ignore[assignment]
    started: list[str] = []
    synthesized: list[tuple[str, SessionState, str, Reason]] = []

    async def start_session(sid: str) -> None:
        started.append(sid)

    instance.start_session = start_session
    instance.synthesize = lambda info, state, detail, reason: synthesized.append(
        (info.session_id, state, detail, reason)
    )
    await member._adopt(Lease("a", "m1", 3, datetime.now(UTC)))
    assert started == []  # no QR: the login exists, under another key
    ((sid, state, detail, reason),) = synthesized
    assert (sid, state, reason) == ("a", SessionState.FAILED, Reason.STATE_CORRUPT)
    assert "fleet_key_file" in detail and "same key" in detail
