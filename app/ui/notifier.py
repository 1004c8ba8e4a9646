"""Tray icon and desktop notifications for disconnects, logouts and the gates that need
an operator now (a passkey to confirm, a block).

One notification per batch at most (a burst of 40 disconnects is one
message, not 40), and nothing when no system tray is available.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from app.domain.events import EngineEvent, SessionStateChanged
from app.domain.states import NO_RETRY_REASONS, SessionState
from app.operator import text as fmt
from app.ui.sessions_model import SessionsModel

_WATCH = {SessionState.DISCONNECTED: "disconnected", SessionState.LOGGED_OUT: "logged out"}


class Notifier:
    """Owns the tray icon; `note()` looks at a batch of events and notifies when needed."""

    def __init__(self, window: QWidget, icon: QIcon) -> None:
        self.tray: QSystemTrayIcon | None = None
        self.sent: list[tuple[str, str]] = []
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon, window)
            self.tray.setToolTip("pairdesk")
            self.tray.activated.connect(lambda _reason: _bring_to_front(window))
            self.tray.show()

    def note(self, events: Sequence[EngineEvent], sessions: SessionsModel) -> None:
        hits: list[tuple[str, str]] = []
        for ev in events:
            if not isinstance(ev, SessionStateChanged):
                continue
            row = sessions.row_for(ev.session_id)
            name = row.label if row and row.label else ev.session_id
            if ev.state in _WATCH:
                if ev.previous is SessionState.CONNECTED or ev.state is SessionState.LOGGED_OUT:
                    hits.append((name, _WATCH[ev.state]))
            elif ev.state is SessionState.PASSKEY_REQUIRED:
                hits.append((name, "needs its passkey (open it in a window)"))
            elif ev.state is SessionState.FAILED and ev.reason in NO_RETRY_REASONS:
                hits.append((name, fmt.state_label(ev.state, ev.reason)))
        if not hits:
            return
        if len(hits) == 1:
            title, body = f"{hits[0][0]} {hits[0][1]}", "Open pairdesk to see why and act."
        else:
            title = f"{len(hits)} sessions lost their connection"
            body = ", ".join(f"{name} ({what})" for name, what in hits[:4])
        self.alert(title, body)

    def alert(self, title: str, body: str) -> None:
        self.sent.append((title, body))
        if self.tray is not None:
            self.tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Warning, 8000)


def _bring_to_front(window: QWidget) -> None:
    window.showNormal()
    window.raise_()
