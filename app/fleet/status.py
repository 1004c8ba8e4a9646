"""What `pairdesk fleet status` (and an attached console) reads about a fleet.

Members and leases come from the fleet database; the QR string a session
shows right now lives only in its owner's memory, so it is asked from the
owner's API (`GET /api/sessions/{id}/status`, with the fleet's instance token).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, or_, select

from app.domain.states import Reason, SessionState
from app.fleet.lease_view import LeaseHealth, LeaseView, fleet_state
from app.fleet.leases import LeaseStore, MemberInfo
from app.store.fleet_models import SessionLease
from app.store.models import Account

WAITING = {s.value for s in SessionState if s.waiting_for_scan}


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    workspace_id: int
    owner: str | None
    epoch: int
    lease_live: bool
    state: str  # as the fleet knows it (`lease_view.fleet_state`), not only as stored
    qr_count: int
    qr: str | None = None
    reason: str | None = None
    detail: str = ""  # why `state` differs from `stored_state`, in the operator's words
    stored_state: str = ""  # what the session's member last wrote
    lease: LeaseView | None = None


@dataclass(frozen=True)
class FleetStatus:
    members: list[MemberInfo]
    sessions: list[SessionRow]

    def as_json(self) -> dict[str, Any]:
        return {
            "members": [
                {
                    "name": m.name,
                    "url": m.advertise_url,
                    "host": m.host,
                    "alive": m.alive,
                    "draining": m.draining,
                    "sessions": m.sessions,
                    "capacity": m.capacity,
                    "load": round(m.sessions / m.capacity, 3) if m.capacity else 0.0,
                    "heartbeat_at": _iso(m.heartbeat_at),
                    "leases": {
                        "held": m.sessions,
                        "expired": m.expired,
                        "oldest_renewal_seconds": (
                            round(m.renewed_ago, 1) if m.renewed_ago is not None else None
                        ),
                    },
                }
                for m in self.members
            ],
            "sessions": [asdict(s) for s in self.sessions],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def read_status(leases: LeaseStore, *, unsettled_only: bool = False) -> FleetStatus:
    """Members and sessions, each session's state as the fleet knows it (`lease_view`).

    `unsettled_only`: just the sessions whose lease is not held by the member the
    account points at (what a console polls for: usually none)."""
    members = leases.members()
    stmt = (
        select(
            Account.session_id,
            Account.workspace_id,
            Account.state,
            Account.reason,
            Account.instance_id,
            Account.qr_count,
            SessionLease.owner,
            func.coalesce(SessionLease.epoch, 0),
            SessionLease.expires_at,
            func.now(),
        )
        .outerjoin(SessionLease, SessionLease.session_id == Account.session_id)
        .order_by(Account.workspace_id, Account.session_id)
    )
    if unsettled_only:
        stmt = stmt.where(
            or_(
                SessionLease.owner.is_(None),
                SessionLease.expires_at.is_(None),
                SessionLease.expires_at <= func.now(),
                Account.instance_id != SessionLease.owner,
            )
        )
    with leases.sessions() as session:
        rows = [
            _row(members, sid, ws, state, reason, inst, qrs, owner, epoch, expires_at, db_now)
            for sid, ws, state, reason, inst, qrs, owner, epoch, expires_at, db_now in (
                session.execute(stmt)
            )
        ]
    return FleetStatus(members=members, sessions=rows)


def _row(
    members: list[MemberInfo],
    sid: str,
    workspace_id: int,
    stored_state: str,
    stored_reason: str | None,
    instance_id: str | None,
    qr_count: int,
    owner: str | None,
    epoch: int,
    expires_at: datetime | None,
    db_now: datetime,
) -> SessionRow:
    lease = LeaseView.of(owner, expires_at, db_now)
    live = lease.health is LeaseHealth.HELD
    stored = SessionState(stored_state)
    seen = fleet_state(
        state=stored,
        reason=Reason(stored_reason) if stored_reason else None,
        instance_id=instance_id or "",
        lease=lease,
        members=members,
    )
    return SessionRow(
        session_id=sid,
        workspace_id=int(workspace_id),
        owner=owner if live else None,
        epoch=int(epoch),
        lease_live=live,
        state=seen.state.value,
        qr_count=int(qr_count),
        reason=seen.reason.value if seen.reason else None,
        detail=seen.detail,
        stored_state=stored.value,
        lease=lease,
    )


def with_qrs(status: FleetStatus, token: str, *, timeout: float = 5.0) -> FleetStatus:
    """The current QR string of every session waiting for a scan, asked from its owner."""
    urls = {m.name: m.advertise_url for m in status.members if m.alive}
    out: list[SessionRow] = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(timeout=timeout, headers=headers) as client:
        for row in status.sessions:
            url = urls.get(row.owner or "")
            if row.state not in WAITING or not url:
                out.append(row)
                continue
            qr = None
            try:
                r = client.get(f"{url.rstrip('/')}/api/sessions/{row.session_id}/status")
                if r.status_code == 200:
                    qr = r.json().get("qr")
            except httpx.HTTPError:
                qr = None
            out.append(SessionRow(**{**asdict(row), "qr": qr}))
    return FleetStatus(members=status.members, sessions=out)
