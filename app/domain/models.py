"""Read models the engine hands to its callers (console, CLI, HTTP API).

Plain frozen values built from the store or the running instances; they never
hold ORM or Playwright objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.domain.proxy import Proxy
from app.domain.states import CentralStatus, Reason, SessionState


@dataclass(frozen=True, kw_only=True)
class AccountSpec:
    """What an operator gives to add an account (one onboarding row)."""

    workspace_id: int
    label: str = ""
    phone_number: str = ""  # expected phone, digits only; optional
    session_id: str = ""  # empty: pairdesk makes one (webjs_{ws}_{unix}_{random8})
    account_id: int | None = None  # the platform's id, when it gave one
    proxy: Proxy | None = None  # the account's own proxy (its password is never shown)


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    """One row of the health grid.

    From the store come the persisted fields; the running engine overlays the
    live ones (`qr`, `qr_expires_at`) it does not persist.
    """

    session_id: str
    workspace_id: int
    label: str = ""
    account_id: int | None = None  # the platform's id, when it gave one
    account_uuid: str = ""  # pairdesk's own stable id of the account row
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
    # While the account links by phone number: the current code, its phone and expiry.
    pairing_code: str = ""
    pairing_phone: str = ""
    pairing_code_expires_at: datetime | None = None
    proxy: str = ""  # the account's proxy as shown (`Proxy.display`: never its password)
    restarts: int = 0
    memory_bytes: int = 0
    extraction_method: str = ""
    platform: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None  # last state change
    import_batch_id: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def central_status(self) -> CentralStatus:
        return self.state.central_status

    def overlaid(self, live: SessionInfo, *, instance_id: str = "") -> SessionInfo:
        """This row with what a running session knows better (`live`) laid over it.

        The one merge of a stored (or earlier) row with a running session's
        report, used by an instance (store row + its host) and by the console
        (its row + an instance's list): live state, QR and load win; counters
        never go backwards; what the live side does not know is kept.
        """
        return replace(
            self,
            label=self.label or live.label,
            state=live.state,
            reason=live.reason,
            phone_number=live.phone_number or self.phone_number,
            instance_id=instance_id or live.instance_id or self.instance_id,
            connected_at=live.connected_at or self.connected_at,
            last_heartbeat_at=live.last_heartbeat_at or self.last_heartbeat_at,
            heartbeat_latency_ms=live.heartbeat_latency_ms or self.heartbeat_latency_ms,
            qr=live.qr,
            qr_issued_at=live.qr_issued_at or self.qr_issued_at,
            qr_expires_at=live.qr_expires_at,
            qr_count=max(live.qr_count, self.qr_count),
            pairing_code=live.pairing_code,
            pairing_phone=live.pairing_phone if live.pairing_code else "",
            pairing_code_expires_at=live.pairing_code_expires_at,
            proxy=self.proxy or live.proxy,
            restarts=max(live.restarts, self.restarts),
            memory_bytes=live.memory_bytes,
            extraction_method=live.extraction_method or self.extraction_method,
            platform=live.platform or self.platform,
            updated_at=live.updated_at or self.updated_at,
        )


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
    last_error: str = ""  # why it last stopped or failed to start, for the operator
    warm_ready: int = 0  # warm-pool login pages showing a QR right now
    warm_target: int = 0  # pages the warm pool keeps (0: pool off)
    # Fleet members only: the leases it holds, how long ago the oldest was renewed,
    # how many it let expire (one line for the card; empty for local instances).
    lease_health: str = ""


@dataclass(frozen=True, kw_only=True)
class TimelineEntry:
    """One step of a session's recorded history (the diagnostics timeline)."""

    session_id: str
    state: SessionState
    previous: SessionState | None
    reason: Reason | None
    at: datetime
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class ImportBatchInfo:
    """One onboarding import: the file, how many rows passed, and per-row results."""

    batch_id: int
    file_name: str
    created_at: datetime
    rows_total: int = 0
    rows_valid: int = 0
    rows_created: int = 0
    results: tuple[dict[str, Any], ...] = ()
