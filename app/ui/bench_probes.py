"""Probes the benchmark (`app/bench`) puts into the console; they live here
because nothing outside `app/ui` imports Qt. What the console scenarios
share: an offscreen QApplication, a watch on the moment a QR is actually
painted, and an engine wrapper that stamps when each event reached the
supervisor's subscriber.

`PaintWatch` is an event filter on `QrView` widgets: it records the first
`Paint` event that carries a given QR string (the widget's own `qr_text()`),
so "QR on screen" means a paint of that code was delivered to the widget,
not that a model changed. `StampedEngine` wraps the real engine for
`EngineHost`: its event stream records, on the engine's loop thread, when
each QR event arrived, which is what the console's bridge sees before its
50 ms coalescing timer and the repaint.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, Qt, QTimer

__all__ = ["PaintWatch", "QElapsedTimer", "Qt", "QTimer", "StampedEngine", "qt_app", "spin"]


def qt_app() -> Any:
    """The process's QApplication, offscreen (created on first use)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["pairdesk-bench"])


def spin(app: Any, until: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Run the GUI event loop until `until()` holds; RuntimeError naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} (waited {timeout:.0f} s)")
        app.processEvents()
        time.sleep(0.001)


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
    maps a workspace to the session its first QR came from.
    """

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.first_qr: dict[int, float] = {}
        self.first_qr_sid: dict[str, float] = {}
        self.sid_of: dict[int, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    @property
    def sandbox_url(self) -> str:
        return str(getattr(self._engine, "sandbox_url", ""))

    def subscribe(self) -> AsyncIterator[Any]:
        # Subscribe now, not at the first iteration: nothing may be missed.
        return self._stamp(self._engine.subscribe())

    async def _stamp(self, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        from app.domain.events import QrIssued

        async for event in stream:
            if isinstance(event, QrIssued):
                now = time.perf_counter()
                self.first_qr.setdefault(event.workspace_id, now)
                self.sid_of.setdefault(event.workspace_id, event.session_id)
                self.first_qr_sid.setdefault(event.session_id, now)
            yield event
