"""How often connected sessions may take their periodic snapshot.

A snapshot reads the page's whole storage through the DevTools protocol. On
the light login page that is a few milliseconds; on a page as heavy as the real
client (docs/SANDBOX.md, "Page weight") it is about 9 MiB and 1-2 s of CPU. At
one a minute, 120 such sessions would need 2-4 cores for snapshots alone and
leave nothing for their pages. So an instance gives all its periodic snapshots
together at most `share` of one core: each session's interval is the sum of the
sessions' last snapshot costs divided by that share, and never shorter than the
configured interval. Estimates lag (a session's first snapshot, taken as it
links, is cheap: its page has not stored its messages yet), so a periodic
snapshot also starts only while the instance's snapshots of the last minute
took less than the share of it: a wave of sessions linked together cannot
snapshot all at once a period later. The snapshot taken when a session links
and the final one on a clean stop are not periodic and never wait
(docs/SESSIONS.md, "Snapshots").
"""

from __future__ import annotations

from collections import deque

# A tenth of one core: heartbeats, QR delivery and the pages keep the rest.
DEFAULT_SHARE = 0.1
# How much a new measurement moves a session's cost (the rest is its history).
_WEIGHT = 0.5
# The window the share is held over, in seconds.
WINDOW_S = 60.0


class SnapshotBudget:
    """The measured cost of each session's snapshots and the interval they allow."""

    def __init__(self, *, share: float = DEFAULT_SHARE) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self._cost: dict[str, float] = {}
        self._total = 0.0  # sum of _cost: read at every heartbeat of every session
        self._spent: deque[tuple[float, float]] = deque()  # (ended at, seconds)

    def record(self, session_id: str, seconds: float, *, ended_at: float) -> None:
        """One snapshot of `session_id` took `seconds`, ending at `ended_at` (loop time)."""
        seconds = max(0.0, seconds)
        self._spent.append((ended_at, seconds))
        old = self._cost.get(session_id)
        new = seconds if old is None else old + _WEIGHT * (seconds - old)
        self._cost[session_id] = new
        self._total += new - (old or 0.0)

    def forget(self, session_id: str) -> None:
        """The session's page is closed: it takes no periodic snapshots."""
        self._total -= self._cost.pop(session_id, 0.0)

    def may_start(self, now: float) -> bool:
        """Whether a periodic snapshot may start at `now` (loop time): the snapshots
        that ended in the last WINDOW_S took less than the share of it."""
        while self._spent and self._spent[0][0] <= now - WINDOW_S:
            self._spent.popleft()
        return sum(seconds for _, seconds in self._spent) < self.share * WINDOW_S

    def interval(self, floor: float) -> float:
        """Seconds between two periodic snapshots of one session: `floor` unless
        the sessions' snapshots together would then take more than the share."""
        return max(floor, max(0.0, self._total) / self.share)
