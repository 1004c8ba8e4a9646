"""The restore gate: the floor always, more up to the ceiling only while a core is spare."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from app.engine.instance import restore_gate
from app.engine.instance.restore_gate import RestoreGate


@pytest.fixture(autouse=True)
def _short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore_gate, "SAMPLE_S", 0.01)


async def _hold(gate: RestoreGate, entered: list[int], release: asyncio.Event) -> None:
    async with gate:
        entered.append(gate.in_flight)
        await release.wait()


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.02)


async def test_the_floor_enters_even_when_every_core_is_busy() -> None:
    gate = RestoreGate(3, 12, busy=lambda: 1.0)
    entered: list[int] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(gate, entered, release)) for _ in range(6)]
    await _settle()
    assert gate.in_flight == 3 and len(entered) == 3  # the rest wait for a place
    release.set()
    await asyncio.gather(*tasks)
    assert len(entered) == 6 and gate.peak == 3


async def test_above_the_floor_only_while_a_core_is_spare_and_never_above_the_ceiling() -> None:
    share = [0.2]
    gate = RestoreGate(2, 5, busy=lambda: share[0])
    entered: list[int] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(gate, entered, release)) for _ in range(8)]
    await _settle()
    assert gate.in_flight == 5  # the ceiling, reached while the CPU had room
    release.set()
    await asyncio.gather(*tasks)
    assert gate.peak == 5

    share[0] = 0.95  # saturated: the floor only
    gate = RestoreGate(2, 5, busy=lambda: share[0])
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(gate, [], release)) for _ in range(8)]
    await _settle()
    assert gate.in_flight == 2
    share[0] = 0.5  # a core frees up: more are let in
    await _settle()
    assert gate.in_flight == 5
    release.set()
    await asyncio.gather(*tasks)


async def test_one_more_above_the_floor_per_look_at_the_cpu() -> None:
    looks: list[int] = []
    gate: RestoreGate

    def busy() -> float:
        looks.append(gate.in_flight)
        return 0.0

    gate = RestoreGate(1, 4, busy=busy, clock=lambda: len(looks) * 1.0)
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(gate, [], release)) for _ in range(4)]
    await _settle()
    # Each look admitted one: the gate saw 1, 2 and 3 in flight before letting the next in.
    assert looks[:3] == [1, 2, 3] and gate.in_flight == 4
    release.set()
    await asyncio.gather(*tasks)


async def test_a_failed_reopening_gives_its_place_back() -> None:
    gate = RestoreGate(1, 1, busy=lambda: 1.0)
    with contextlib.suppress(RuntimeError):
        async with gate:
            raise RuntimeError("the page did not open")
    assert gate.in_flight == 0
    async with asyncio.timeout(1):
        async with gate:
            assert gate.in_flight == 1


def test_the_machine_share_reader_reads_a_fraction() -> None:
    read = restore_gate._busy_reader()
    assert read() is None  # nothing to compare with yet
    sum(i * i for i in range(2_000_000))  # a few ms of CPU, so the counters move
    share = read()
    assert share is None or 0.0 <= share <= 1.0
