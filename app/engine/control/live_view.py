"""The engine's live picture of every session: store rows overlaid with instance events.

`list_sessions()` answers from here without touching the database, so the
console can poll it cheaply. Rows start from the store (persisted fields),
then each event from an instance updates them, including what is never
persisted (the QR string and its expiry). After an instance (re)connects, its
own list is applied as a snapshot; events stamped before that snapshot are
then ignored for the row (they are older news), though still forwarded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from app.domain.events import (
    EngineEvent,
    PairingCodeIssued,
    QrIssued,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
)
from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState

__all__ = ["LiveView"]


@dataclass
class _Row:
    info: SessionInfo
    snapshot_at: datetime | None = None


class LiveView:
    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}

    # ---------------------------------------------------------------- reading

    def get(self, session_id: str) -> SessionInfo | None:
        row = self._rows.get(session_id)
        return row.info if row is not None else None

    def all(self) -> list[SessionInfo]:
        return [row.info for row in self._rows.values()]

    def on_instance(self, instance_id: str) -> list[SessionInfo]:
        return [r.info for r in self._rows.values() if r.info.instance_id == instance_id]

    def loads(self) -> dict[str, int]:
        """Sessions assigned to each instance (what placement counts against capacity)."""
        out: dict[str, int] = {}
        for row in self._rows.values():
            if row.info.instance_id:
                out[row.info.instance_id] = out.get(row.info.instance_id, 0) + 1
        return out

    # ---------------------------------------------------------------- writing

    def seed(self, infos: Iterable[SessionInfo]) -> None:
        """Rows from the store; an existing row keeps its live overlay."""
        for info in infos:
            row = self._rows.get(info.session_id)
            if row is None:
                self._rows[info.session_id] = _Row(info)

    def assign(self, session_id: str, instance_id: str | None) -> None:
        row = self._rows.get(session_id)
        if row is not None:
            row.info = replace(row.info, instance_id=instance_id or "")

    def set_proxy(self, session_id: str, proxy: str) -> SessionInfo | None:
        row = self._rows.get(session_id)
        if row is None:
            return None
        row.info = replace(row.info, proxy=proxy)
        return row.info

    def remove(self, session_id: str) -> None:
        self._rows.pop(session_id, None)

    def set_state(
        self, session_id: str, state: SessionState, reason: Reason | None, at: datetime
    ) -> SessionInfo | None:
        row = self._rows.get(session_id)
        if row is None:
            return None
        row.info = _with_state(row.info, state, reason, at)
        return row.info

    def apply(self, event: EngineEvent) -> None:
        """Fold one instance event into its row (unknown sessions get a row)."""
        sid = getattr(event, "session_id", None)
        if not isinstance(sid, str):
            return
        row = self._rows.get(sid)
        if row is None:
            workspace = getattr(event, "workspace_id", None)
            if not isinstance(workspace, int):
                return  # a heartbeat of a session we have never heard of
            row = self._rows[sid] = _Row(SessionInfo(session_id=sid, workspace_id=workspace))
        info = row.info
        stale = row.snapshot_at is not None and event.at < row.snapshot_at
        if stale and not isinstance(event, QrIssued | SessionHeartbeat):
            return  # the instance's snapshot already says what came of it
        instance_id = getattr(event, "instance_id", "") or info.instance_id
        if isinstance(event, SessionStateChanged):
            info = _with_state(info, event.state, event.reason, event.at)
            if event.is_restart:
                info = replace(info, restarts=info.restarts + 1)
            if event.phone_number:
                info = replace(info, phone_number=event.phone_number)
        elif isinstance(event, QrIssued):
            if not (info.state.waiting_for_scan or info.state is SessionState.STARTING):
                return  # an old QR of a session that has moved on
            if event.qr_count < info.qr_count and info.qr:
                return
            info = replace(
                info,
                qr=event.qr,
                qr_issued_at=event.at,
                qr_expires_at=event.expires_at,
                qr_count=event.qr_count,
                extraction_method=event.extraction_method or info.extraction_method,
                pairing_code="",  # a QR on screen: the code screen is gone
                pairing_phone="",
                pairing_code_expires_at=None,
            )
        elif isinstance(event, PairingCodeIssued):
            if not (info.state.waiting_for_scan or info.state is SessionState.STARTING):
                return
            info = replace(
                info,
                qr="",
                pairing_code=event.code,
                pairing_phone=event.phone,
                pairing_code_expires_at=event.expires_at,
            )
        elif isinstance(event, SessionReady):
            info = replace(
                info,
                phone_number=event.phone_number or info.phone_number,
                extraction_method=event.extraction_method or info.extraction_method,
                connected_at=info.connected_at or event.at,
            )
        elif isinstance(event, SessionHeartbeat):
            info = replace(
                info,
                last_heartbeat_at=event.at,
                heartbeat_latency_ms=event.latency_ms,
                memory_bytes=event.memory_bytes or info.memory_bytes,
            )
        row.info = replace(info, instance_id=instance_id)

    def apply_snapshot(
        self, instance_id: str, rows: Iterable[SessionInfo], at: datetime
    ) -> list[tuple[SessionInfo | None, SessionInfo]]:
        """An instance's own list; returns (before, after) for rows whose state changed."""
        changed: list[tuple[SessionInfo | None, SessionInfo]] = []
        for live in rows:
            row = self._rows.get(live.session_id)
            before = row.info if row is not None else None
            after = (before or live).overlaid(live, instance_id=instance_id)
            self._rows[live.session_id] = _Row(after, snapshot_at=at)
            if before is None or before.state is not after.state:
                changed.append((before, after))
        return changed


def _with_state(
    info: SessionInfo, state: SessionState, reason: Reason | None, at: datetime
) -> SessionInfo:
    info = replace(info, state=state, reason=reason, updated_at=at)
    if state is SessionState.CONNECTED:
        info = replace(info, connected_at=at)
    if not state.waiting_for_scan:
        info = replace(
            info, qr="", qr_expires_at=None, pairing_code="", pairing_code_expires_at=None
        )
    return info
