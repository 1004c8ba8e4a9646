"""Engine events: frozen dataclasses that cross from the engine to the console,
the CLI, the instance's server-sent events and the sync outbox.

They carry plain values only (no Playwright or ORM objects), so they can be
passed between threads and serialised with `event_to_dict` / `event_from_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from app.domain.states import Reason, SessionState, is_restart


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class EngineEvent:
    """Base of every event; `type` is the stable wire name."""

    type: ClassVar[str] = "event"
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, kw_only=True)
class SessionStateChanged(EngineEvent):
    type: ClassVar[str] = "state"
    session_id: str
    workspace_id: int
    state: SessionState
    previous: SessionState | None = None
    reason: Reason | None = None
    detail: str = ""
    phone_number: str = ""
    instance_id: str = ""

    @property
    def is_restart(self) -> bool:
        """This transition restarts the session (see `app.domain.states.is_restart`)."""
        return is_restart(self.previous, self.state)


@dataclass(frozen=True, kw_only=True)
class QrIssued(EngineEvent):
    """A new login QR for a session; `qr` is the whole string the phone scans."""

    type: ClassVar[str] = "qr"
    session_id: str
    workspace_id: int
    qr: str
    expires_at: datetime
    qr_count: int  # refs issued to this session so far (1-based)
    is_regeneration: bool = False
    extraction_method: str = "modules"  # "modules" | "dom" | "pixels"
    instance_id: str = ""

    @property
    def expires_in(self) -> float:
        return max(0.0, (self.expires_at - self.at).total_seconds())


@dataclass(frozen=True, kw_only=True)
class PairingCodeIssued(EngineEvent):
    """A new pairing code for a session (link with phone number); it travels like a QR.

    `code` is the page's 8 characters; the phone's owner types them after choosing
    "Link with phone number instead". The page asks for a fresh one every 180 s
    (scaled) while the account stays unpaired, so every code has its expiry.
    """

    type: ClassVar[str] = "pairing_code"
    session_id: str
    workspace_id: int
    code: str
    phone: str  # E.164 digits the code was asked for
    expires_at: datetime
    code_count: int  # codes issued to this session since it was asked for one (1-based)
    instance_id: str = ""

    @property
    def expires_in(self) -> float:
        return max(0.0, (self.expires_at - self.at).total_seconds())

    @property
    def display_code(self) -> str:
        """`ABCD-EFGH`, as the official page shows it."""
        return format_pairing_code(self.code)


def format_pairing_code(code: str) -> str:
    """`ABCDEFGH` -> `ABCD-EFGH` (the way the page shows it, easy to read out loud)."""
    compact = code.replace("-", "").strip().upper()
    return f"{compact[:4]}-{compact[4:]}" if len(compact) == 8 else compact


@dataclass(frozen=True, kw_only=True)
class SessionReady(EngineEvent):
    """Logged in and synced; carries what the platform stores about the account."""

    type: ClassVar[str] = "ready"
    session_id: str
    workspace_id: int
    phone_number: str
    platform: str = ""
    extraction_method: str = ""
    restored: bool = False  # True when reached from a snapshot without a QR
    instance_id: str = ""


@dataclass(frozen=True, kw_only=True)
class SessionError(EngineEvent):
    type: ClassVar[str] = "error"
    session_id: str
    workspace_id: int
    error: str  # a stable code, e.g. a Reason value
    message: str  # for the operator: what happened, what it affects, what to do
    instance_id: str = ""


@dataclass(frozen=True, kw_only=True)
class SessionHeartbeat(EngineEvent):
    type: ClassVar[str] = "heartbeat"
    session_id: str
    latency_ms: float
    memory_bytes: int = 0
    instance_id: str = ""


@dataclass(frozen=True, kw_only=True)
class InstanceLoad(EngineEvent):
    """A sample of one instance's whole process tree (Python + Chromium)."""

    type: ClassVar[str] = "instance_load"
    instance_id: str
    url: str = ""
    pid: int = 0
    alive: bool = True
    cpu_percent: float = 0.0
    memory_bytes: int = 0
    sessions_total: int = 0
    sessions_connected: int = 0
    capacity: int = 0
    restarts: int = 0
    warm_ready: int = 0  # warm-pool login pages showing a QR right now
    warm_target: int = 0  # pages the warm pool keeps (0: pool off)


@dataclass(frozen=True, kw_only=True)
class SyncStatus(EngineEvent):
    """Outbox delivery health, for the console's sync indicator."""

    type: ClassVar[str] = "sync"
    enabled: bool
    pending: int = 0
    oldest_pending_age: float = 0.0
    delivered: int = 0
    dead: int = 0
    last_error: str = ""


@dataclass(frozen=True, kw_only=True)
class ReconcileReport(EngineEvent):
    """The platform's expected accounts (`accounts/active`) compared with the store's.

    Reported for the operator, never acted on: pairdesk neither creates the
    accounts it lacks nor deletes the ones the platform does not expect.
    `error` is set (and both lists are empty) when the pull itself failed.
    """

    type: ClassVar[str] = "reconcile"
    expected_missing: tuple[str, ...] = ()  # the platform expects them; pairdesk has none
    unexpected: tuple[str, ...] = ()  # pairdesk has them; the platform does not expect them
    expected: int = 0  # accounts the platform listed
    local: int = 0  # accounts in pairdesk's store
    error: str = ""

    @property
    def in_step(self) -> bool:
        return not self.error and not self.expected_missing and not self.unexpected


EVENT_TYPES: dict[str, type[EngineEvent]] = {
    cls.type: cls
    for cls in (
        SessionStateChanged,
        QrIssued,
        PairingCodeIssued,
        SessionReady,
        SessionError,
        SessionHeartbeat,
        InstanceLoad,
        SyncStatus,
        ReconcileReport,
    )
}

_ENUM_FIELDS: dict[str, type[Any]] = {
    "state": SessionState,
    "previous": SessionState,
    "reason": Reason,
}
_TIME_FIELDS = frozenset({"at", "expires_at"})
_TUPLE_FIELDS = frozenset({"expected_missing", "unexpected"})


def event_to_dict(event: EngineEvent) -> dict[str, Any]:
    """JSON-ready dict: `type` first, datetimes as ISO 8601, enums as their values."""
    out: dict[str, Any] = {"type": event.type}
    for key, value in asdict(event).items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, SessionState | Reason):
            value = value.value
        out[key] = value
    return out


def event_from_dict(data: dict[str, Any]) -> EngineEvent:
    """Inverse of `event_to_dict`; unknown keys are ignored, an unknown type raises."""
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if value is not None and f.name in _TIME_FIELDS:
            value = datetime.fromisoformat(value)
        elif value is not None and f.name in _ENUM_FIELDS:
            value = _ENUM_FIELDS[f.name](value)
        elif value is not None and f.name in _TUPLE_FIELDS:
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
