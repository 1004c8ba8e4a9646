"""The member's lease loop with fakes: what it stops, when, and when it gives up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.fleet.leases import Lease
from app.fleet.member import FleetMember, MemberFenced

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


class FakeInstance:
    def __init__(self) -> None:
        self.dropped: list[str] = []

    async def drop_session(self, session_id: str) -> None:
        self.dropped.append(session_id)


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
