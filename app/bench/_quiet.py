"""Before each scenario, a bounded wait for the machine's cores to go quiet.

A scenario's figures are its own: what the one before it left running down
(two hundred Chromium processes exiting and returning their memory, a
store's last writes, a stand-in API finishing its log) is not part of the
next one's restore time or latency tail. The runner ends every process a
scenario left, then waits here until the whole machine's CPU has been below
`QUIET_BELOW_PERCENT` for `QUIET_FOR_S` in a row, at most `limit_s`. A
machine that stays busy (another user's job) is not waited out: the wait
ends at its limit and the report says the scenario started on a busy
machine, with how busy.

The busy loops of a loaded run start after this wait, so they are never
what it waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil

QUIET_BELOW_PERCENT = 25.0
"""Share of all cores busy (user + system) under which the machine counts as quiet."""
QUIET_FOR_S = 3.0
SAMPLE_S = 0.5
LIMIT_S = 60.0
"""A full run's longest wait: enough for a large scenario's processes to run down."""


def cpu_busy_percent(period: float = SAMPLE_S) -> float:
    """The machine's CPU busy over `period` seconds (blocks for that long), in percent
    of all cores."""
    return float(psutil.cpu_percent(interval=period))


def wait_for_quiet(
    limit_s: float,
    *,
    sample: Callable[[], float] = cpu_busy_percent,
    clock: Callable[[], float] = time.monotonic,
    below: float = QUIET_BELOW_PERCENT,
    quiet_for: float = QUIET_FOR_S,
) -> dict[str, Any]:
    """Wait until `below` percent held for `quiet_for` seconds, or `limit_s` passed.

    `sample` blocks for one sampling period and returns the machine's CPU busy
    percent over it. Returns what the report keeps: how long the wait took,
    whether the machine went quiet, and how busy it was at the start and end.
    """
    started = clock()
    period_start = started  # each sample covers the time since the previous one
    readings: list[float] = []
    quiet_since: float | None = None
    while True:
        busy = sample()
        now = clock()
        readings.append(busy)
        if busy < below:
            quiet_since = period_start if quiet_since is None else quiet_since
            if now - quiet_since >= quiet_for:
                return _outcome(started, now, readings[0], busy, quiet=True)
        else:
            quiet_since = None
        if now - started >= limit_s:
            return _outcome(started, now, readings[0], busy, quiet=False)
        period_start = now


def _outcome(
    started: float, now: float, first: float, last: float, *, quiet: bool
) -> dict[str, Any]:
    return {
        "waited_s": round(now - started, 2),
        "quiet": quiet,
        "cpu_busy_percent_at_start": round(first, 1),
        "cpu_busy_percent_at_end": round(last, 1),
    }
