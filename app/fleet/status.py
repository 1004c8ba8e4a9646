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
from sqlalchemy import func, select

from app.domain.states import SessionState
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
    state: str
    qr_count: int
    qr: str | None = None


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
                }
                for m in self.members
            ],
            "sessions": [asdict(s) for s in self.sessions],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def read_status(leases: LeaseStore) -> FleetStatus:
    members = leases.members()
    stmt = (
        select(
            Account.session_id,
            Account.workspace_id,
            SessionLease.owner,
            func.coalesce(SessionLease.epoch, 0),
            func.coalesce(SessionLease.expires_at > func.now(), False),
            Account.state,
            Account.qr_count,
        )
        .outerjoin(SessionLease, SessionLease.session_id == Account.session_id)
        .order_by(Account.workspace_id, Account.session_id)
    )
    with leases.sessions() as session:
        rows = [
            SessionRow(sid, int(ws), owner if live else None, int(epoch), bool(live), state, qrs)
            for sid, ws, owner, epoch, live, state, qrs in session.execute(stmt)
        ]
    return FleetStatus(members=members, sessions=rows)


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
