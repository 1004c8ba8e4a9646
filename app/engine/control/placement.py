"""Which instance runs which session: rendezvous (highest random weight) hashing.

Every (session, instance) pair gets a pseudo-random weight from a stable hash
(blake2b, so every process and every run agrees; Python's `hash()` is salted
per process). A session goes to the live instance with the highest weight that
still has room. Unlike `workspace_id % instance_count`, adding an instance
moves only the sessions that now rank it first (about 1/(N+1) of them, all onto
the new one), and removing one moves only the sessions it held.

Two entry points: `choose()` places one session given the current loads (what
the engine does when an account is added or its instance stays down), and
`assign_all()` computes a whole placement from scratch (planning, tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

__all__ = ["assign_all", "choose", "rank", "weight"]


def weight(session_id: str, instance_id: str) -> int:
    """The pair's weight: 64 bits of blake2b over both ids, separated unambiguously."""
    key = f"{len(instance_id)}:{instance_id}|{session_id}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def rank(session_id: str, instance_ids: Iterable[str]) -> list[str]:
    """Instances in the session's order of preference (ties broken by id, so total)."""
    return sorted(instance_ids, key=lambda iid: (-weight(session_id, iid), iid))


def choose(
    session_id: str,
    capacities: Mapping[str, int],
    loads: Mapping[str, int] | None = None,
    *,
    exclude: Iterable[str] = (),
) -> str | None:
    """The preferred instance with room for one more session, or None if all are full.

    `capacities` maps each live instance id to its `max_sessions`; `loads` to the
    sessions it holds now (missing means 0). `exclude` skips instances (e.g. the
    one that is down).
    """
    skip = set(exclude)
    current = loads or {}
    for iid in rank(session_id, (i for i in capacities if i not in skip)):
        if current.get(iid, 0) < capacities[iid]:
            return iid
    return None


def assign_all(session_ids: Iterable[str], capacities: Mapping[str, int]) -> dict[str, str | None]:
    """Place every session; None for those that fit nowhere.

    The result does not depend on the order of `session_ids`: sessions claim
    their first choice in order of how strongly they prefer it (highest weight
    first), so when capacity is ample this is exactly plain HRW, and when it is
    tight the sessions pushed to a second choice are the ones that cared least.
    """
    ids = sorted(set(session_ids))
    loads: dict[str, int] = dict.fromkeys(capacities, 0)
    result: dict[str, str | None] = {}
    pending = ids
    # Round k: each unplaced session bids for its k-th choice; the strongest
    # bids win while there is room. Terminates after at most len(capacities) rounds.
    prefs = {sid: rank(sid, capacities) for sid in ids}
    for k in range(len(capacities)):
        bids = sorted(
            (sid for sid in pending if k < len(prefs[sid])),
            key=lambda sid: (-weight(sid, prefs[sid][k]), sid),
        )
        still: list[str] = []
        for sid in bids:
            iid = prefs[sid][k]
            if loads[iid] < capacities[iid]:
                loads[iid] += 1
                result[sid] = iid
            else:
                still.append(sid)
        pending = still
        if not pending:
            break
    for sid in pending:
        result[sid] = None
    return result
