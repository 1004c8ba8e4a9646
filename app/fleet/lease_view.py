"""What a session's state is *as far as the fleet knows* (docs/FLEET.md,
"While a session waits for a member").

A session's stored state is the last thing its owner wrote. When the owner
stops renewing (killed, frozen, cut off from the database) its page is
closed at its lease deadline, but nothing writes that down: the owner cannot,
and the next owner writes only once it has claimed the session. Until then
the stored "connected" is stale. This module is the one place that decides
what consoles (`FleetEngine`) and `pairdesk fleet status` show instead:

- lease **held** (owner set, unexpired on the database's clock) and the
  account already points at that owner: the stored (or live) state stands;
- held, but the account still points at another member: the new owner claimed
  it and has not opened it yet, `disconnected (awaiting_member)`;
- **expired** or **unowned** (released, or never claimed): its page is closed;
  `disconnected (awaiting_member)` while some live member has room for it,
  `disconnected (no_member)` when none does (none alive, or all full or
  draining), because then nothing happens until an operator acts.

Only sessions that were meant to run are rewritten: one that is stopped by an
operator, logged out or failed has no page either way and keeps its state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.states import RUNNING_STATES, Reason, SessionState
from app.fleet.leases import MemberInfo


class LeaseHealth(StrEnum):
    HELD = "held"
    EXPIRED = "expired"
    UNOWNED = "unowned"


@dataclass(frozen=True)
class LeaseView:
    """One lease as of the database's `now()`."""

    health: LeaseHealth
    owner: str | None  # the holder, or the member that let it expire; None when unowned
    seconds_since_expiry: float | None  # None while held (and for a row never written)

    @classmethod
    def of(cls, owner: str | None, expires_at: datetime | None, db_now: datetime) -> LeaseView:
        since = (db_now - expires_at).total_seconds() if expires_at is not None else None
        if owner is None:
            return cls(LeaseHealth.UNOWNED, None, _rounded(since))
        if expires_at is not None and expires_at > db_now:
            return cls(LeaseHealth.HELD, owner, None)
        return cls(LeaseHealth.EXPIRED, owner, _rounded(since))


@dataclass(frozen=True)
class FleetState:
    """A session's state as the fleet knows it, with why (empty when the stored one stands)."""

    state: SessionState
    reason: Reason | None
    detail: str = ""


def meant_to_run(state: SessionState, reason: Reason | str | None) -> bool:
    """Had the session a page (or was getting one) when its member last wrote about it?
    `stopped (instance_restart)` counts: its member closed it on the way out."""
    if state is SessionState.STOPPED:
        return reason == Reason.INSTANCE_RESTART
    return state in RUNNING_STATES


def fleet_state(
    *,
    state: SessionState,
    reason: Reason | None,
    instance_id: str,
    lease: LeaseView,
    members: Sequence[MemberInfo],
) -> FleetState:
    """The one rule (module docstring): what a session whose last word was `state`
    (`reason`, written by `instance_id`) is now, given its lease and the members."""
    stands = FleetState(state, reason)
    if not meant_to_run(state, reason):
        return stands
    if lease.health is LeaseHealth.HELD:
        if not instance_id or instance_id == lease.owner:
            return stands
        return FleetState(
            SessionState.DISCONNECTED,
            Reason.AWAITING_MEMBER,
            f"{lease.owner} took it over from {instance_id} and opens it shortly",
        )
    placing = [m for m in members if m.alive and not m.draining]
    with_room = [m for m in placing if m.sessions < m.capacity]
    if not with_room:
        if not placing:
            why = "no fleet member is alive (or every one is draining)"
        else:
            why = f"all {len(placing)} live member(s) are full"
        return FleetState(
            SessionState.DISCONNECTED,
            Reason.NO_MEMBER,
            f"{_lapse(lease)}; {why}, so no member can take it: start another member "
            "or raise max_sessions",
        )
    return FleetState(
        SessionState.DISCONNECTED,
        Reason.AWAITING_MEMBER,
        f"{_lapse(lease)}; waiting for another member to take it over",
    )


def _lapse(lease: LeaseView) -> str:
    if lease.health is LeaseHealth.EXPIRED:
        ago = f" {lease.seconds_since_expiry:.0f} s ago" if lease.seconds_since_expiry else ""
        return (
            f"its member {lease.owner} stopped renewing its lease{ago} (stopped, frozen or cut "
            "off from the database) and its page was closed"
        )
    return "no member holds its lease (released, or not placed yet)"


def _rounded(seconds: float | None) -> float | None:
    return round(max(0.0, seconds), 1) if seconds is not None else None
