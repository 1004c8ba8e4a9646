"""Probes the benchmark (`app/bench`) puts into the console; they live here
because nothing outside `app/ui` imports Qt. What the console scenarios
share: an offscreen QApplication, precise timers, a watch on the moment a QR
is actually painted, and an engine wrapper that stamps when each event
reached the supervisor's subscriber. No Qt class leaves this module: the
bench calls these and never touches Qt itself.

`PaintWatch` is an event filter on `QrView` widgets: it records the first
`Paint` event that carries a given QR string (the widget's own `qr_text()`),
so "QR on screen" means a paint of that code was delivered to the widget,
not that a model changed. `StampedEngine` wraps the real engine for
`EngineHost`: its event stream records, on the engine's loop thread, when
each QR event arrived, which is what the console's bridge sees before its
50 ms coalescing timer and the repaint.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer

from app.domain.events import EngineEvent, QrIssued
from app.engine.api import (
    WARM_UP_SECONDS,
    AccountSpec,
    DoctorCheck,
    Engine,
    InstanceInfo,
    OutboxItem,
    SessionInfo,
    TimelineEntry,
)

__all__ = ["Paint", "PaintWatch", "PreciseTimers", "StampedEngine", "qt_app", "spin"]


def qt_app() -> Any:
    """The process's QApplication, offscreen (created on first use).

    Qt's own messages (the offscreen platform's "This plugin does not support
    propagateSizeHints()" and the like) go to the log, not between the lines of
    the bench's table."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_qt_message_to_log)
    return QApplication.instance() or QApplication(["pairdesk-bench"])


def _qt_message_to_log(_mode: Any, context: Any, message: str) -> None:
    logging.getLogger("qt").debug("%s (%s)", message, getattr(context, "category", ""))


def spin(app: Any, until: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Run the GUI event loop until `until()` holds; RuntimeError naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} (waited {timeout:.0f} s)")
        app.processEvents()
        time.sleep(0.001)


class PreciseTimers:
    """Precise Qt timers that call plain functions on the GUI thread, started and
    stopped together (the grid scenario's stall probe, frame and tick)."""

    def __init__(self) -> None:
        self._timers: list[QTimer] = []

    def every(self, interval_ms: int, call: Callable[[], object]) -> None:
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(interval_ms)
        timer.timeout.connect(call)
        self._timers.append(timer)

    def start(self) -> None:
        for timer in self._timers:
            timer.start()

    def stop(self) -> None:
        for timer in self._timers:
            timer.stop()


_KEY = "benchPaintKey"


@dataclass(frozen=True)
class Paint:
    at: float  # perf_counter when the paint event was delivered
    key: str  # what the watcher was told this widget shows (a session id, a workspace)
    qr: str  # the QR string the widget painted


class PaintWatch(QObject):
    """Event filter on QR widgets: every paint of a QR, with the time it was delivered."""

    def __init__(self) -> None:
        super().__init__()
        self.paints: list[Paint] = []
        self.first: dict[str, float] = {}  # QR string -> its first paint

    def watch(self, view: QObject, key: str = "") -> None:
        """Record `view`'s paints under `key` (installing twice is harmless)."""
        view.setProperty(_KEY, key)
        view.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt's name
        if event.type() == QEvent.Type.Paint:
            qr = str(watched.qr_text())  # type: ignore[attr-defined]
            if qr:
                now = time.perf_counter()
                self.paints.append(Paint(now, str(watched.property(_KEY) or ""), qr))
                self.first.setdefault(qr, now)
        return False


class StampedEngine:
    """The engine as `EngineHost` needs it, with every QR event's arrival stamped.

    `first_qr[workspace_id]` and `first_qr_sid[session_id]` are the perf_counter
    times of the first `QrIssued` seen by the subscriber; `sid_of[workspace_id]`
    maps a workspace to the session its first QR came from. Everything else is
    passed to the wrapped engine as it is.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.first_qr: dict[int, float] = {}
        self.first_qr_sid: dict[str, float] = {}
        self.sid_of: dict[int, str] = {}

    def subscribe(self) -> AsyncIterator[EngineEvent]:
        # Subscribe now, not at the first iteration: nothing may be missed.
        return self._stamp(self._engine.subscribe())

    async def _stamp(self, stream: AsyncIterator[EngineEvent]) -> AsyncIterator[EngineEvent]:
        async for event in stream:
            if isinstance(event, QrIssued):
                now = time.perf_counter()
                self.first_qr.setdefault(event.workspace_id, now)
                self.sid_of.setdefault(event.workspace_id, event.session_id)
                self.first_qr_sid.setdefault(event.session_id, now)
            yield event

    @property
    def provider_url(self) -> str:
        return self._engine.provider_url

    @property
    def central_url(self) -> str:
        return self._engine.central_url

    @property
    def sandbox_url(self) -> str:
        return self._engine.sandbox_url

    async def start(self) -> None:
        await self._engine.start()

    async def aclose(self) -> None:
        await self._engine.aclose()

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        return await self._engine.add_accounts(specs, start=start)

    async def start_session(self, session_id: str) -> None:
        await self._engine.start_session(session_id)

    async def stop_session(self, session_id: str) -> None:
        await self._engine.stop_session(session_id)

    async def restart_session(self, session_id: str) -> None:
        await self._engine.restart_session(session_id)

    async def logout_session(self, session_id: str) -> None:
        await self._engine.logout_session(session_id)

    async def regenerate_qr(self, session_id: str) -> None:
        await self._engine.regenerate_qr(session_id)

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        await self._engine.request_pairing_code(session_id, phone)

    async def open_window(self, session_id: str) -> None:
        await self._engine.open_window(session_id)

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> None:
        await self._engine.warm_up(pages, seconds=seconds)

    async def set_proxy(self, session_id: str, proxy: str) -> SessionInfo:
        return await self._engine.set_proxy(session_id, proxy)

    async def remove_account(self, session_id: str) -> None:
        await self._engine.remove_account(session_id)

    async def list_sessions(self) -> list[SessionInfo]:
        return await self._engine.list_sessions()

    async def list_instances(self) -> list[InstanceInfo]:
        return await self._engine.list_instances()

    async def restart_instance(self, instance_id: str) -> None:
        await self._engine.restart_instance(instance_id)

    async def add_instance(self) -> InstanceInfo:
        return await self._engine.add_instance()

    async def session_timeline(self, session_id: str) -> list[TimelineEntry]:
        return await self._engine.session_timeline(session_id)

    async def list_outbox(self, state: str = "") -> list[OutboxItem]:
        return await self._engine.list_outbox(state)

    async def retry_outbox(self, event_ids: Sequence[str] = ()) -> int:
        return await self._engine.retry_outbox(event_ids)

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        return await self._engine.instance_log(instance_id, lines)

    async def doctor(self) -> list[DoctorCheck]:
        return await self._engine.doctor()


def _is_an_engine(engine: StampedEngine) -> Engine:
    return engine  # mypy checks here that StampedEngine satisfies the Engine Protocol
