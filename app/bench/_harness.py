"""What every scenario shares: the processes the bench started, statistics,
the result records, the printed table and the JSON report.

Process hygiene: the bench remembers every process that descends from it
(pid and start time, sampled a few times a second by `ProcessTracker`), so a
Chromium that Playwright put in its own process group, or that was re-parented
after its instance died, is still known. At the end `ProcessTracker.cleanup`
ends exactly those processes, matched by pid and start time, never by name, and
reports how many Chromium processes it had to end or could not end.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil

__all__ = [
    "MEMORY_FLOOR",
    "MemoryFloor",
    "ProcessTracker",
    "ScenarioResult",
    "Skip",
    "machine_info",
    "percentile",
    "guarded",
    "memory_low",
    "render_table",
    "summary",
    "tree_pss",
]

T = TypeVar("T")


class Skip(Exception):
    """The scenario cannot run here; the message says why (reported, never faked)."""


@dataclass
class ScenarioResult:
    """One scenario's outcome: every figure it measured, or why it did not run."""

    name: str
    status: str = "ok"  # "ok" | "skipped" | "failed"
    figures: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    """Table lines: (figure, ours, target or what it is compared with)."""
    verdicts: list[bool | None] = field(default_factory=list)
    """Per row: True met the target, False missed it, None no target (a comparison)."""
    reason: str = ""
    duration_s: float = 0.0
    scenario: str = ""
    """The scenario's name; `name` adds the variant ("memory [real]", "grid [load 2]")."""
    page_weight: str = "light"
    load: int = 0
    """Busy loops that competed for the cores during this run (0: a quiet run)."""
    load_average: dict[str, list[float]] = field(default_factory=dict)
    """`uptime`'s load averages at the start and the end of this run."""
    quiet_wait: dict[str, Any] = field(default_factory=dict)
    """The wait for a quiet machine before this run (`app.bench._quiet`)."""

    def row(self, figure: str, ours: str, compare: str = "", *, met: bool | None = None) -> None:
        self.rows.append((figure, ours, compare))
        self.verdicts.append(met)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "scenario": self.scenario or self.name,
            "page_weight": self.page_weight,
            "load": self.load,
            "load_average": self.load_average,
            "quiet_wait": self.quiet_wait,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
        }
        if self.status == "skipped":
            out["skipped"] = self.reason
        elif self.status == "failed":
            out["error"] = self.reason
        out["figures"] = self.figures
        if any(v is not None for v in self.verdicts):
            out["verdicts"] = {
                figure: "met" if v else "missed"
                for (figure, _o, _c), v in zip(self.rows, self.verdicts, strict=False)
                if v is not None
            }
        return out


# ------------------------------------------------------------------ statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float], digits: int = 1) -> dict[str, float | int]:
    """n, p50, p95, min, max and mean of a sample, rounded; n=0 only when empty."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "mean": round(sum(values) / len(values), digits),
    }


def ms(stats: dict[str, float | int], key: str = "p50") -> str:
    """A summary figure for the table, in ms, or "n/a" for an empty sample."""
    return f"{stats[key]:.0f} ms" if key in stats else "n/a"


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


# ---------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    from app import __version__

    return {
        "pairdesk_version": __version__,
        "cpu_count": os.cpu_count() or 0,
        "memory_total_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ----------------------------------------------------------- safety stop

MEMORY_FLOOR = 0.15  # stop growing when less than this share of memory is available
_SWAP_GROWTH = 256 * 2**20
_swap_at_import = psutil.swap_memory().used


class MemoryFloor(Exception):
    """The machine is running out of memory: the ramp must stop here (never swap, never OOM)."""


def memory_low(floor: float = MEMORY_FLOOR) -> str:
    """Why the machine is too short of memory to go on, or '' when it is not."""
    vm = psutil.virtual_memory()
    if vm.available < floor * vm.total:
        return (
            f"available memory {vm.available / 2**30:.1f} GiB is under "
            f"{floor:.0%} of {vm.total / 2**30:.1f} GiB"
        )
    swapped = psutil.swap_memory().used - _swap_at_import
    if swapped > _SWAP_GROWTH:
        return f"the machine started swapping ({swapped / 2**20:.0f} MiB more in swap)"
    return ""


async def _watch_memory(floor: float, interval: float) -> None:
    while not (why := await asyncio.to_thread(memory_low, floor)):
        await asyncio.sleep(interval)
    raise MemoryFloor(why)


async def guarded(work: Awaitable[T], *, floor: float = MEMORY_FLOOR, interval: float = 0.5) -> T:
    """Await `work`, cancelling it and raising `MemoryFloor` if memory runs short meanwhile."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_watch_memory(floor, interval))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        watcher.result()  # raises MemoryFloor
        raise AssertionError("unreachable")
    finally:
        for pending in (task, watcher):
            pending.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)


# ---------------------------------------------------------------- processes

_CHROMIUM_NAMES = ("chrom", "headless_shell")


def _is_chromium(proc: psutil.Process) -> bool:
    try:
        name = proc.name().lower()
    except psutil.Error:
        return False
    return any(part in name for part in _CHROMIUM_NAMES)


def tree_pss(root_pid: int) -> tuple[int, int]:
    """(PSS bytes, process count) of a process and all its descendants; 0 when gone."""
    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    return pss_of(procs)


def pss_of(procs: Iterable[psutil.Process]) -> tuple[int, int]:
    total = 0
    count = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
            count += 1
        except psutil.Error:
            continue
    return total, count


class ProcessTracker:
    """Every process descended from this one, remembered by (pid, start time).

    `start()` samples the tree in a daemon thread; `cleanup()` stops sampling
    and ends whatever it remembered that is still alive (TERM, then KILL).
    """

    def __init__(self, interval: float = 0.25) -> None:
        self._interval = interval
        self._known: dict[tuple[int, float], psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._me = psutil.Process(os.getpid())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-tracker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def sample(self) -> None:
        try:
            children = self._me.children(recursive=True)
        except psutil.Error:
            return
        with self._lock:
            for proc in children:
                try:
                    key = (proc.pid, proc.create_time())
                except psutil.Error:
                    continue
                self._known.setdefault(key, proc)

    def known_count(self) -> int:
        with self._lock:
            return len(self._known)

    def _alive(self) -> list[psutil.Process]:
        with self._lock:
            procs = list(self._known.values())
        alive = []
        for proc in procs:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.Error:
                continue
        return alive

    def end_alive(self, grace: float = 5.0) -> dict[str, int]:
        """End every remembered process still alive (TERM, then KILL after `grace`);
        keep watching. Between scenarios: nothing one left may weigh on the next."""
        self.sample()
        leftover = self._alive()
        left_chromium = sum(1 for p in leftover if _is_chromium(p))
        for proc in leftover:
            _signal(proc, signal.SIGTERM)
        _, still = psutil.wait_procs(leftover, timeout=grace)
        for proc in still:
            _signal(proc, signal.SIGKILL)
        psutil.wait_procs(still, timeout=grace)
        time.sleep(0.1)
        survivors = self._alive()
        return {
            "left_at_end": len(leftover),
            "chromium_left_at_end": left_chromium,
            "chromium_surviving_cleanup": sum(1 for p in survivors if _is_chromium(p)),
            "surviving_cleanup": len(survivors),
        }

    def cleanup(self, grace: float = 5.0) -> dict[str, int]:
        """Stop watching; end every remembered process still alive; say what was left and
        what survived."""
        self.sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        return {"processes_started": self.known_count(), **self.end_alive(grace)}


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    try:
        proc.send_signal(sig)  # psutil checks the pid still belongs to the same process
    except psutil.Error:
        pass


# ------------------------------------------------------------------- table


def render_table(results: Sequence[ScenarioResult]) -> str:
    """Scenario | figure | ours | target | verdict: one aligned text table for the terminal.

    The verdict is "met" or "missed" against the row's target, empty for a row
    that is only compared with something (the replaced design, a load figure)."""
    lines: list[tuple[str, ...]] = [("scenario", "figure", "ours", "target / compared", "verdict")]
    for result in results:
        if result.status != "ok":
            word = "SKIPPED" if result.status == "skipped" else "FAILED"
            lines.append((result.name, word, "", _clip(result.reason, 70), ""))
            continue
        for i, (figure, ours, compare) in enumerate(result.rows):
            met = result.verdicts[i] if i < len(result.verdicts) else None
            word = "" if met is None else "met" if met else "missed"
            lines.append((result.name if i == 0 else "", figure, ours, compare, word))
    widths = [max(len(line[col]) for line in lines) for col in range(5)]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(line)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
