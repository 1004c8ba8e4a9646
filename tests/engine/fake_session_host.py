"""A scripted stand-in for `SessionHost`: no browser, events in the order the real
one emits them (starting -> qr + QrIssued, or starting -> connected + ready when a
"snapshot" exists), plus `scan()` to play the phone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from app.domain.events import (
    EngineEvent,
    PairingCodeIssued,
    QrIssued,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
    utcnow,
)
from app.domain.models import SessionInfo
from app.domain.proxy import Proxy
from app.domain.states import Reason, SessionState
from app.engine.errors import Conflict, SessionLocked, UnknownSession


class FakeSessionHost:
    def __init__(
        self,
        *,
        emit: Callable[[EngineEvent], None],
        instance_id: str = "instance-0",
        snapshots: set[str] | None = None,
        locked: set[str] | None = None,
    ) -> None:
        self._emit = emit
        # Folders "locked by another process" (an instance still shutting down).
        self.locked = locked if locked is not None else set()
        self.instance_id = instance_id
        self.snapshots = snapshots if snapshots is not None else set()
        self._sessions: dict[str, SessionInfo] = {}
        self.calls: list[tuple[str, str]] = []
        self.proxies: dict[str, Proxy | None] = {}  # the proxy each start/restart was given
        self.warm: tuple[int, int] = (0, 0)  # what warm_status() reports
        self.warm_ups: list[tuple[int, float]] = []  # (pages, seconds) of each warm_up
        self.boot_gate: asyncio.Event | None = None  # when set: pages "boot" until it opens
        self.started = False
        self.closed = False

    # ------------------------------------------------------------- helpers

    def _move(self, session_id: str, state: SessionState, reason: Reason | None = None) -> None:
        info = self._sessions[session_id]
        previous = info.state
        self._sessions[session_id] = replace(info, state=state, reason=reason, updated_at=utcnow())
        self._emit(
            SessionStateChanged(
                session_id=session_id,
                workspace_id=info.workspace_id,
                state=state,
                previous=previous,
                reason=reason,
                phone_number=info.phone_number,
                instance_id=self.instance_id,
            )
        )

    def _qr(self, session_id: str, *, regeneration: bool = False) -> QrIssued:
        info = self._sessions[session_id]
        count = info.qr_count + 1
        now = utcnow()
        event = QrIssued(
            session_id=session_id,
            workspace_id=info.workspace_id,
            qr=f"ref{count}-{session_id},noise,identity,secret,WEB",
            expires_at=now + timedelta(seconds=60),
            qr_count=count,
            is_regeneration=regeneration,
            instance_id=self.instance_id,
            at=now,
        )
        self._sessions[session_id] = replace(
            info, qr=event.qr, qr_count=count, qr_expires_at=event.expires_at
        )
        if info.state is not SessionState.QR:
            self._move(session_id, SessionState.QR)
        self._emit(event)
        return event

    def _connect(self, session_id: str, phone: str, *, restored: bool) -> None:
        info = self._sessions[session_id]
        self._sessions[session_id] = replace(info, phone_number=phone, connected_at=utcnow())
        self._move(session_id, SessionState.CONNECTED)
        self._emit(
            SessionReady(
                session_id=session_id,
                workspace_id=info.workspace_id,
                phone_number=phone,
                platform="WEB",
                extraction_method="modules",
                restored=restored,
                instance_id=self.instance_id,
            )
        )

    def scan(self, session_id: str, phone: str = "6281234567890") -> None:
        """The phone scanned the current QR: pairing, then connected."""
        self._move(session_id, SessionState.PAIRING)
        self.snapshots.add(session_id)
        self._connect(session_id, phone, restored=False)

    def passkey(self, session_id: str) -> None:
        """The phone accepted the link, and the page now asks for the account's passkey."""
        self._move(session_id, SessionState.PAIRING)
        self._move(session_id, SessionState.PASSKEY_REQUIRED, Reason.PASSKEY_REQUIRED)

    def heartbeat(self, session_id: str, latency_ms: float = 12.0) -> None:
        self._emit(
            SessionHeartbeat(
                session_id=session_id, latency_ms=latency_ms, instance_id=self.instance_id
            )
        )

    def _known(self, session_id: str) -> SessionInfo:
        if session_id not in self._sessions:
            raise UnknownSession(session_id)
        return self._sessions[session_id]

    # ------------------------------------------------------------ contract

    async def start(self) -> None:
        self.started = True

    async def start_session(
        self, *, session_id: str, workspace_id: int, label: str = "", proxy: Proxy | None = None
    ) -> SessionInfo:
        self.calls.append(("start", session_id))
        if session_id in self.locked:
            raise SessionLocked(session_id)
        self.proxies[session_id] = proxy
        self._sessions[session_id] = SessionInfo(
            session_id=session_id,
            workspace_id=workspace_id,
            label=label,
            instance_id=self.instance_id,
        )
        self._move(session_id, SessionState.STARTING)
        if self.boot_gate is not None:
            await self.boot_gate.wait()
        if session_id in self.snapshots:
            self._connect(session_id, "6281234567890", restored=True)
        else:
            self._qr(session_id)
        return self._sessions[session_id]

    async def stop_session(
        self, session_id: str, *, reason: Reason = Reason.USER_INITIATED
    ) -> None:
        self.calls.append(("stop", session_id))
        self._known(session_id)
        self._move(session_id, SessionState.STOPPED, reason)
        del self._sessions[session_id]

    async def logout_session(self, session_id: str) -> None:
        self.calls.append(("logout", session_id))
        self._known(session_id)
        self.snapshots.discard(session_id)
        self._move(session_id, SessionState.LOGGED_OUT, Reason.USER_INITIATED)
        del self._sessions[session_id]

    async def regenerate_qr(self, session_id: str, *, wait: bool = True) -> QrIssued | None:
        self.calls.append(("regenerate_qr", session_id))
        self._known(session_id)
        qr = self._qr(session_id, regeneration=True)
        return qr if wait else None

    async def request_pairing_code(self, session_id: str, phone: str) -> PairingCodeIssued:
        self.calls.append(("pairing_code", session_id))
        info = self._known(session_id)
        if not info.state.waiting_for_scan:
            raise Conflict(f"session {session_id} is {info.state.value}")
        now = utcnow()
        count = 2 if info.pairing_code else 1
        event = PairingCodeIssued(
            session_id=session_id,
            workspace_id=info.workspace_id,
            code=f"CODE{count:04d}",
            phone=phone,
            expires_at=now + timedelta(seconds=180),
            code_count=count,
            instance_id=self.instance_id,
            at=now,
        )
        self._sessions[session_id] = replace(
            info,
            qr="",
            pairing_code=event.code,
            pairing_phone=phone,
            pairing_code_expires_at=event.expires_at,
        )
        self._emit(event)
        return event

    async def open_window(self, session_id: str) -> None:
        self.calls.append(("open_window", session_id))
        if self._known(session_id).state is not SessionState.PASSKEY_REQUIRED:
            raise Conflict(f"session {session_id} is not waiting for its passkey")

    async def restart_session(self, session_id: str, *, proxy: Proxy | None = None) -> None:
        self.calls.append(("restart", session_id))
        self.proxies[session_id] = proxy
        self._known(session_id)
        self._move(session_id, SessionState.STARTING, Reason.USER_INITIATED)
        if session_id in self.snapshots:
            self._connect(session_id, "6281234567890", restored=True)
        else:
            self._qr(session_id)

    def sessions(self) -> list[SessionInfo]:
        return list(self._sessions.values())

    def warm_status(self) -> tuple[int, int]:
        return self.warm

    async def warm_up(self, pages: int, *, seconds: float = 900.0) -> int:
        """Like the real host with `warm_pool` 0: the pool keeps what is asked, up to 8."""
        self.warm_ups.append((pages, seconds))
        self.warm = (self.warm[0], min(pages, 8))
        return self.warm[1]

    async def aclose(self) -> None:
        for session_id in list(self._sessions):
            self._move(session_id, SessionState.STOPPED, Reason.INSTANCE_RESTART)
        self._sessions.clear()
        self.closed = True
