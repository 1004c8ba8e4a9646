"""The clock of local lease deadlines, shared by a member and its watchdog.

CLOCK_BOOTTIME (Linux) is monotonic and, unlike CLOCK_MONOTONIC, keeps
counting while the machine is suspended: a host that sleeps past a deadline
fires its watchdog the moment it wakes, instead of believing no time passed.
Every process of the machine reads the same clock, so a deadline computed by
the member means the same instant to the watchdog.
"""

from __future__ import annotations

import time

_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def now() -> float:
    return time.clock_gettime(_CLOCK)
