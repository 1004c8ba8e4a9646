"""Rendezvous (highest random weight) preference of members for a session.

The same weight as the local engine's placement (blake2b over both ids), so a
member's preference is stable across processes, hosts and runs: adding or
losing a member changes the first choice of only about 1/N of the sessions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def weight(session_id: str, member: str) -> int:
    key = f"{len(session_id)}:{session_id}|{member}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def rank_of(session_id: str, member: str, members: Iterable[str]) -> int:
    """0 when `member` is the session's first choice among `members` (plus itself)."""
    mine = weight(session_id, member)
    return sum(1 for other in set(members) - {member} if weight(session_id, other) > mine)


def first_choice(session_id: str, members: Iterable[str]) -> str | None:
    ranked = sorted(members, key=lambda m: weight(session_id, m), reverse=True)
    return ranked[0] if ranked else None
