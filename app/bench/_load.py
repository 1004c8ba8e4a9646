"""`--load N`: N busy loops competing for the cores while a loaded run measures.

Each loop is a child Python process spinning at normal priority in a
session of its own, as another user's CPU-bound job would. They are ended
by pid (TERM, then KILL) when the run ends, and the bench's
`ProcessTracker` knows them as it knows every descendant, so an
interrupted run ends them too.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

_SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def busy_loops(count: int) -> Iterator[list[int]]:
    """Start `count` busy loops for the duration of the block; yields their pids."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _SPIN],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    # Another user's job runs in a session of its own. With the kernel's
                    # autogroup (on by default) CPU is shared fairly between sessions,
                    # so loops in the bench's session would eat the console's own share.
                    start_new_session=True,
                )
            )
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return [round(x, 2) for x in os.getloadavg()]
