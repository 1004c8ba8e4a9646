"""Read models the engine hands to its callers (console, CLI, HTTP API).

Plain frozen values built from the store or the running instances; they never
hold ORM or Playwright objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.domain.states import Reason, SessionState


@dataclass(frozen=True, kw_only=True)
class AccountSpec:
    """What an operator gives to add an account (one onboarding row)."""

    workspace_id: int
    label: str = ""
    phone_number: str = ""  # expected phone, digits only; optional
    session_id: str = ""  # empty: pairdesk makes one (webjs_{ws}_{unix}_{random8})
    account_id: int | None = None  # the platform's id, when it gave one


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    """One row of the health grid."""

    session_id: str
    workspace_id: int
    label: str = ""
    state: SessionState = SessionState.STOPPED
    reason: Reason | None = None
    phone_number: str = ""
    instance_id: str = ""
    connected_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    heartbeat_latency_ms: float | None = None
    qr: str = ""  # current QR string while waiting for a scan
    qr_issued_at: datetime | None = None
    qr_expires_at: datetime | None = None
    qr_count: int = 0
    restarts: int = 0
    memory_bytes: int = 0
    extraction_method: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class InstanceInfo:
    """One instance card."""

    instance_id: str
    index: int
    url: str = ""
    pid: int = 0
    alive: bool = False
    started_at: datetime | None = None
    restarts: int = 0
    capacity: int = 0
    sessions_total: int = 0
    sessions_connected: int = 0
    cpu_percent: float = 0.0
    memory_bytes: int = 0
    restart_history: tuple[datetime, ...] = field(default=())
