"""The instance API's JSON, written and read in one place (docs/INSTANCE_API.md).

Both ends of the wire use this module: the instance (`instance/http_api.py`)
encodes, the console's side (`supervisor/`, `control/`) decodes. A field added
to one direction is therefore added to the other, and a round trip
(`decode_session(encode_session(info))`) gives back every field the wire
carries; tests check exactly that.

- A session: `SessionInfo` <-> the object of `GET /api/sessions` rows and
  `GET /api/sessions/{id}/status` (the platform's `status` vocabulary plus
  pairdesk's finer `state`).
- Health: `Health` <-> `GET /health`.
- Warm-up: the limits of `POST /api/warm-pool` (`WARM_UP_SECONDS`,
  `MAX_WARM_UP_PAGES`), which the console splits and the instance enforces.

Decoding is lenient in what it accepts (a field of the wrong type counts as
absent) and never raises on a well-formed JSON object: an instance of a newer
or older version must not take the console down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState

__all__ = [
    "MAX_WARM_UP_PAGES",
    "MAX_WARM_UP_SECONDS",
    "WARM_UP_SECONDS",
    "Health",
    "decode_session",
    "encode_session",
]

# A warm-up (more pooled login pages while a batch of accounts is onboarded) lasts
# this long unless renewed, so a console that went away leaves no pages booted.
WARM_UP_SECONDS = 900.0
# Pooled login pages one instance keeps at most during a warm-up (each is a renderer);
# an instance whose `warm_pool` setting is higher keeps its setting.
MAX_WARM_UP_PAGES = 8
# The longest warm-up an instance accepts in one request.
MAX_WARM_UP_SECONDS = 86_400.0


# ------------------------------------------------------------------ sessions


def encode_session(info: SessionInfo) -> dict[str, Any]:
    """One session as the API shows it (list rows and `/status`).

    `qr` is the current login QR string while the session waits for a scan
    (what a phone would read off the screen); the API's callers hold the
    instance token, which also lets them ask for a new QR. While the account
    links by phone number, `pairing_code` (and its phone and expiry) replaces it.
    `proxy` is the account's proxy as shown: never with its password.
    """
    last = info.last_heartbeat_at or info.updated_at
    waiting = info.state.waiting_for_scan
    return {
        "session_id": info.session_id,
        "workspace_id": info.workspace_id,
        "account_id": info.account_id,
        "label": info.label,
        "status": info.state.central_status.value,
        "state": info.state.value,
        "reason": info.reason.value if info.reason is not None else None,
        "phone_number": info.phone_number or None,
        "instance_id": info.instance_id,
        "connected_at": _iso(info.connected_at),
        "last_activity": _iso(last),
        "last_heartbeat_at": _iso(info.last_heartbeat_at),
        "heartbeat_latency_ms": info.heartbeat_latency_ms,
        "qr": info.qr if waiting and info.qr else None,
        "qr_count": info.qr_count,
        "qr_issued_at": _iso(info.qr_issued_at) if waiting else None,
        "qr_expires_at": _iso(info.qr_expires_at) if waiting else None,
        "pairing_code": info.pairing_code if waiting and info.pairing_code else None,
        "pairing_phone": info.pairing_phone if waiting and info.pairing_code else None,
        "pairing_code_expires_at": _iso(info.pairing_code_expires_at) if waiting else None,
        "proxy": info.proxy or None,
        "restarts": info.restarts,
        "memory_bytes": info.memory_bytes,
        "extraction_method": info.extraction_method or None,
        "platform": info.platform or None,
        "created_at": _iso(info.created_at),
        "updated_at": _iso(info.updated_at),
    }


def decode_session(data: dict[str, Any], *, instance_id: str = "") -> SessionInfo | None:
    """The `SessionInfo` an `encode_session` object describes; None without a usable id.

    `instance_id`, when given, wins over the object's own (the supervisor's
    name for the instance is the one the console uses).
    """
    session_id = data.get("session_id")
    workspace_id = _int(data.get("workspace_id"))
    if not isinstance(session_id, str) or not session_id or workspace_id is None:
        return None
    try:
        state = SessionState(str(data.get("state")))
    except ValueError:
        state = SessionState.STOPPED
    waiting = state.waiting_for_scan
    qr = data.get("qr")
    code = _text(data.get("pairing_code")) if waiting else ""
    return SessionInfo(
        session_id=session_id,
        workspace_id=workspace_id,
        account_id=_int(data.get("account_id")),
        label=_text(data.get("label")),
        state=state,
        reason=_reason(data.get("reason")),
        phone_number=_text(data.get("phone_number")),
        instance_id=instance_id or _text(data.get("instance_id")),
        connected_at=_time(data.get("connected_at")),
        last_heartbeat_at=_time(data.get("last_heartbeat_at")),
        heartbeat_latency_ms=_number(data.get("heartbeat_latency_ms")),
        qr=qr if waiting and isinstance(qr, str) else "",
        qr_issued_at=_time(data.get("qr_issued_at")) if waiting else None,
        qr_expires_at=_time(data.get("qr_expires_at")) if waiting else None,
        qr_count=_int(data.get("qr_count")) or 0,
        pairing_code=code,
        pairing_phone=_text(data.get("pairing_phone")) if code else "",
        pairing_code_expires_at=_time(data.get("pairing_code_expires_at")) if code else None,
        proxy=_text(data.get("proxy")),
        restarts=_int(data.get("restarts")) or 0,
        memory_bytes=_int(data.get("memory_bytes")) or 0,
        extraction_method=_text(data.get("extraction_method")),
        platform=_text(data.get("platform")),
        created_at=_time(data.get("created_at")),
        updated_at=_time(data.get("updated_at")),
    )


# -------------------------------------------------------------------- health


@dataclass(frozen=True, kw_only=True)
class Health:
    """An instance's `GET /health`: liveness, session counts and load."""

    status: str = "unknown"  # starting | ok | stopping | stopped
    instance_id: str = ""
    index: int = 0
    pid: int = 0
    uptime: float = 0.0
    sessions_total: int = 0
    sessions_connected: int = 0
    sessions_waiting: int = 0  # showing a QR
    sessions_restoring: int = 0
    capacity: int = 0
    memory_used_mb: float = 0.0  # the instance's process tree
    memory_total_mb: float = 0.0  # the machine
    cpu_percent: float = 0.0  # the instance's process tree, 100 = one core
    processes: int = 0
    listeners: int = 0  # open event streams
    warm_ready: int = 0  # warm-pool login pages showing a QR now
    warm_target: int = 0  # pages the warm pool keeps (0: pool off)

    @property
    def sessions_disconnected(self) -> int:
        return max(0, self.sessions_total - self.sessions_connected - self.sessions_waiting)

    def encode(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "instance_id": self.instance_id,
            "index": self.index,
            "pid": self.pid,
            "uptime": round(self.uptime, 3),
            "sessions": {
                "total": self.sessions_total,
                "connected": self.sessions_connected,
                "disconnected": self.sessions_disconnected,
                "qr": self.sessions_waiting,
                "restoring": self.sessions_restoring,
                "capacity": self.capacity,
            },
            "memory": {
                "used": round(self.memory_used_mb, 1),
                "total": round(self.memory_total_mb, 1),
                "unit": "MB",
            },
            "cpu_percent": self.cpu_percent,
            "processes": self.processes,
            "listeners": self.listeners,
            "warm_ready": self.warm_ready,
            "warm_target": self.warm_target,
        }

    @classmethod
    def decode(cls, data: dict[str, Any]) -> Health:
        sessions = data.get("sessions")
        sessions = sessions if isinstance(sessions, dict) else {}
        memory = data.get("memory")
        memory = memory if isinstance(memory, dict) else {}
        return cls(
            status=_text(data.get("status")) or "unknown",
            instance_id=_text(data.get("instance_id")),
            index=_count(data.get("index")),
            pid=_count(data.get("pid")),
            uptime=_number(data.get("uptime")) or 0.0,
            sessions_total=_count(sessions.get("total")),
            sessions_connected=_count(sessions.get("connected")),
            sessions_waiting=_count(sessions.get("qr")),
            sessions_restoring=_count(sessions.get("restoring")),
            capacity=_count(sessions.get("capacity")),
            memory_used_mb=_number(memory.get("used")) or 0.0,
            memory_total_mb=_number(memory.get("total")) or 0.0,
            cpu_percent=_number(data.get("cpu_percent")) or 0.0,
            processes=_count(data.get("processes")),
            listeners=_count(data.get("listeners")),
            warm_ready=_count(data.get("warm_ready")),
            warm_target=_count(data.get("warm_target")),
        )


# ------------------------------------------------------------------- helpers


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _count(value: Any) -> int:
    """A whole number of at least 0; 0 when absent or not a whole number."""
    number = _int(value)
    return number if number is not None and number >= 0 else 0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _reason(value: Any) -> Reason | None:
    try:
        return Reason(value) if isinstance(value, str) and value else None
    except ValueError:
        return None
