"""How often connected sessions may take their periodic snapshot.

A snapshot reads the page's whole storage through the DevTools protocol. On
the light login page that is a few milliseconds; on a page as heavy as the real
client (docs/SANDBOX.md, "Page weight") it is about 9 MiB and 1-2 s of CPU. At
one a minute, 120 such sessions would need 2-4 cores for snapshots alone and
leave nothing for their pages. So an instance gives all its periodic snapshots
together at most `share` of one core: each session's interval is the sum of the
sessions' last snapshot costs divided by that share, and never shorter than the
configured interval. The snapshot taken when a session links and the final one
on a clean stop are not periodic and never wait (docs/SESSIONS.md, "Snapshots").
"""

from __future__ import annotations

# A tenth of one core: heartbeats, QR delivery and the pages keep the rest.
DEFAULT_SHARE = 0.1
# How much a new measurement moves a session's cost (the rest is its history).
_WEIGHT = 0.5


class SnapshotBudget:
    """The measured cost of each session's snapshots and the interval they allow."""

    def __init__(self, *, share: float = DEFAULT_SHARE) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self._cost: dict[str, float] = {}

    def record(self, session_id: str, seconds: float) -> None:
        """One snapshot of `session_id` took `seconds`."""
        seconds = max(0.0, seconds)
        old = self._cost.get(session_id)
        self._cost[session_id] = seconds if old is None else old + _WEIGHT * (seconds - old)

    def forget(self, session_id: str) -> None:
        """The session's page is closed: it takes no periodic snapshots."""
        self._cost.pop(session_id, None)

    def interval(self, floor: float) -> float:
        """Seconds between two periodic snapshots of one session: `floor` unless
        the sessions' snapshots together would then take more than the share."""
        return max(floor, sum(self._cost.values()) / self.share)
