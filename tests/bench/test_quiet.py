"""The wait for a quiet machine before each scenario (`app.bench._quiet`), on a
scripted CPU reading and clock: no real waiting, no dependence on this machine."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from app.bench._quiet import wait_for_quiet


class ScriptedMachine:
    """Each sample takes half a second of the fake clock and returns the next reading;
    past the script's end the last reading repeats."""

    def __init__(self, readings: Iterable[float]) -> None:
        self.readings = list(readings)
        self.now = 100.0
        self.samples = 0

    def sample(self) -> float:
        self.now += 0.5
        reading = self.readings[min(self.samples, len(self.readings) - 1)]
        self.samples += 1
        return reading

    def clock(self) -> float:
        return self.now


def _wait(machine: ScriptedMachine, limit_s: float = 60.0) -> dict:
    sample: Callable[[], float] = machine.sample
    return wait_for_quiet(limit_s, sample=sample, clock=machine.clock)


def test_a_quiet_machine_is_waited_for_only_the_quiet_span() -> None:
    machine = ScriptedMachine([5.0])
    wait = _wait(machine)
    assert wait == {
        "waited_s": 3.0,
        "quiet": True,
        "cpu_busy_percent_at_start": 5.0,
        "cpu_busy_percent_at_end": 5.0,
    }
    assert machine.samples == 6


def test_processes_running_down_are_waited_out() -> None:
    # Four busy samples (two seconds of a previous scenario's Chromium exiting), then quiet.
    machine = ScriptedMachine([95.0, 80.0, 60.0, 30.0, 10.0])
    wait = _wait(machine)
    assert wait["quiet"] is True
    assert wait["waited_s"] == 5.0
    assert wait["cpu_busy_percent_at_start"] == 95.0
    assert wait["cpu_busy_percent_at_end"] == 10.0


def test_a_busy_sample_restarts_the_quiet_span() -> None:
    machine = ScriptedMachine([10.0, 10.0, 10.0, 10.0, 90.0, 10.0])
    wait = _wait(machine)
    assert wait["quiet"] is True
    # 2 s quiet, 0.5 s busy, then a full 3 s quiet span.
    assert wait["waited_s"] == 5.5


def test_a_machine_that_stays_busy_is_not_waited_out() -> None:
    machine = ScriptedMachine([100.0])
    wait = _wait(machine, limit_s=10.0)
    assert wait["quiet"] is False
    assert wait["waited_s"] == 10.0
    assert wait["cpu_busy_percent_at_end"] == 100.0


def test_a_short_limit_reads_once_and_reports_the_machine_as_it_was() -> None:
    machine = ScriptedMachine([70.0])
    wait = _wait(machine, limit_s=0.0)
    assert machine.samples == 1
    assert wait["quiet"] is False
    assert wait["cpu_busy_percent_at_start"] == 70.0


def test_a_smoke_run_reads_one_second_and_calls_a_quiet_one_quiet() -> None:
    machine = ScriptedMachine([3.0])
    wait = wait_for_quiet(1.0, quiet_for=1.0, sample=machine.sample, clock=machine.clock)
    assert wait["quiet"] is True and wait["waited_s"] == 1.0
