"""Health policy of one instance's sessions: heartbeat timing and recovery backoff.

A session is pinged (one `page.evaluate` round trip) every `interval`; when
`hang_after` pings in a row each take longer than `timeout`, the page is hung. A hung page, a
crashed renderer, a crashed browser or a page that does not get its socket
back within `reconnect_grace` is recovered by reopening the session
from its snapshot, after a delay that doubles per consecutive failure (with
jitter, so a browser crash does not make every session retry in lockstep),
at most `budget` times before the session goes `failed`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from app.config import Settings


@dataclass(frozen=True)
class HealthPolicy:
    interval: float = 5.0
    timeout: float = 15.0
    hang_after: int = 2  # pings in a row that time out before a page counts as hung
    budget: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    snapshot_interval: float = 60.0
    reconnect_grace: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        snapshot_interval: float | None = None,
        heartbeat_timeout: float | None = None,
        reconnect_grace: float | None = None,
        rng: random.Random | None = None,
    ) -> HealthPolicy:
        """Timings from `Settings` (heartbeat interval, retry budget)."""
        interval = settings.heartbeat_interval
        return cls(
            interval=interval,
            # Generous: a busy 2-core machine stalls evaluates for seconds; a hang is forever.
            timeout=heartbeat_timeout if heartbeat_timeout is not None else max(10.0, 3 * interval),
            budget=settings.retry_budget,
            # Not scaled by time_scale: this is the time a browser or a profile needs to
            # let go after a crash (real seconds), not a WhatsApp protocol timer.
            backoff_base=1.0,
            backoff_cap=60.0,
            snapshot_interval=snapshot_interval if snapshot_interval is not None else 60.0,
            # How long a page may try to reconnect its socket by itself before it is
            # reopened from the snapshot.
            reconnect_grace=reconnect_grace
            if reconnect_grace is not None
            else max(30.0, 12 * interval),
            rng=rng or random.Random(),
        )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before recovery attempt `attempt` (0-based): exponential, jittered."""
        delay = min(self.backoff_cap, self.backoff_base * (2.0 ** min(attempt, 30)))
        return delay * self.rng.uniform(0.5, 1.0)
