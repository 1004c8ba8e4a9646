"""How many saved logins an instance reopens at once.

Reopening a saved login is part waiting (the page's IndexedDB opening, about
0.3 s for a light page) and part work (the context, the page, and for a heavy
client rebuilding its models from storage: seconds of CPU). A fixed number in
flight is wrong for one of the two: four times the start admission lets light
pages overlap their waits (restore 300 in under a minute), but 24 heavy pages
on two cores starve each other until their pings time out and the restore
stops converging (130 real-weight sessions: docs/BENCHMARKS.md).

So the gate admits up to `floor` reopenings at any time, and more, up to
`ceiling`, only while the machine has CPU to spare: the busy share of all
cores since the gate last looked is under `BUSY_SHARE`.
Light pages fill the idle CPU and reach the ceiling; heavy ones saturate the
cores near the floor. Other programs' load counts too: an instance restoring
beside other work takes less, not more.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import TracebackType

import psutil

BUSY_SHARE = 0.9
SAMPLE_S = 0.25


def _busy_reader() -> Callable[[], float | None]:
    """A reader of the machine's busy share (0..1) since its previous call (None first)."""
    last: list[tuple[float, float]] = []

    def read() -> float | None:
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        total = sum(times)
        previous = last[0] if last else None
        last[:] = [(idle, total)]
        if previous is None or total <= previous[1]:
            return None
        return 1.0 - (idle - previous[0]) / (total - previous[1])

    return read


class RestoreGate:
    """An async context manager: `async with gate:` around one reopening.

    Above the floor, one more is let in per look at the CPU (every `SAMPLE_S` at
    most), so the gate sees what the last one it let in costs before the next."""

    def __init__(
        self,
        floor: int,
        ceiling: int,
        *,
        busy: Callable[[], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.floor = max(1, floor)
        self.ceiling = max(self.floor, ceiling)
        self._read_busy = busy or _busy_reader()
        self._clock = clock
        self._looked_at = float("-inf")
        self.in_flight = 0
        self.peak = 0
        self._released = asyncio.Event()

    def _may_enter(self) -> bool:
        if self.in_flight < self.floor:
            return True
        if self.in_flight >= self.ceiling:
            return False
        now = self._clock()
        if now - self._looked_at < SAMPLE_S:
            return False  # looked a moment ago: wait for a window worth reading
        self._looked_at = now
        share = self._read_busy()
        return share is not None and share < BUSY_SHARE

    async def __aenter__(self) -> RestoreGate:
        while not self._may_enter():
            self._released.clear()
            # A release frees a place at once; below the ceiling spare CPU is looked for
            # again after a sample's time.
            wait = SAMPLE_S if self.in_flight < self.ceiling else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._released.wait()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._released.set()
