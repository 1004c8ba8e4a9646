"""Pieces of the main window's frame: header, navigation, status totals, shortcut overlay."""

from __future__ import annotations

import contextlib
from importlib import resources

from PySide6.QtCore import Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.events import SyncStatus
from app.domain.states import SessionState
from app.operator import text as fmt
from app.ui import theme

VIEWS = ("QR wall", "Sessions", "Instances", "Onboard", "Diagnose")
SHORTCUTS = (
    ("Ctrl+1 … Ctrl+5", "switch views (QR wall, Sessions, Instances, Onboard, Diagnose)"),
    ("Ctrl+F", "search sessions"),
    ("F", "focus mode: one QR at a time"),
    ("Space", "focus mode: skip to the next account"),
    ("R", "focus mode: ask for a new QR"),
    ("Esc", "leave focus mode / close this help"),
    ("Ctrl+,", "settings"),
    ("F1", "about pairdesk: version and support details"),
    ("?", "show this help"),
)


ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon() -> QIcon:
    """The pairdesk icon at every packaged size (`app/ui/icons/`, drawn by
    `packaging/icons/make_icons.py`); read through importlib.resources, so the
    installed wheel and the desktop bundle show the same icon as a checkout."""
    icon = QIcon()
    folder = resources.files("app.ui").joinpath("icons")
    for size in ICON_SIZES:
        pixmap = QPixmap()
        with contextlib.suppress(OSError):
            pixmap.loadFromData(folder.joinpath(f"pairdesk-{size}.png").read_bytes(), "PNG")
        if not pixmap.isNull():
            icon.addPixmap(pixmap)
    return icon


class Header(QFrame):
    """App name, sandbox badge, session search and the sync indicator.

    Signals:
        sig_search_changed(str): the search text changed.
        sig_sync_clicked(): the sync indicator was clicked (opens diagnostics).
    """

    sig_search_changed = Signal(str)
    sig_sync_clicked = Signal()

    def __init__(self, *, sandbox: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name = QLabel("pairdesk")
        name.setObjectName("AppName")
        self.badge = QLabel("sandbox")
        self.badge.setObjectName("Badge")
        self.badge.setToolTip("The provider is the local login simulator, not WhatsApp")
        self.badge.setVisible(sandbox)
        self.demo = QLabel("demo data")
        self.demo.setObjectName("Badge")
        self.demo.setStyleSheet("background: #7c3aed; color: white;")
        self.demo.setToolTip("Scripted demo engine: nothing on screen is a real account")
        self.demo.hide()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search sessions…   (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(340)
        self.search.textChanged.connect(self.sig_search_changed)
        self.sync = QToolButton()
        self.sync.setObjectName("Sync")
        self.sync.setText("sync: starting…")
        self.sync.clicked.connect(self.sig_sync_clicked)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 10, 16, 10)
        row.addWidget(name)
        row.addWidget(self.badge)
        row.addWidget(self.demo)
        row.addStretch(1)
        row.addWidget(self.search)
        row.addSpacing(12)
        row.addWidget(self.sync)

    def set_sync_unavailable(self) -> None:
        """The engine is not running: no delivery can be known (never "starting…" forever)."""
        self.sync.setText("● sync: engine not running")
        self.sync.setStyleSheet(f"color: {theme.RED}; font-weight: 600;")
        self.sync.setToolTip("The engine did not start; see the banner above the views")

    def set_sync(self, status: SyncStatus) -> None:
        if not status.enabled:
            text, color = "sync: off", theme.GREY
        elif status.dead:
            text, color = f"sync: {status.dead} dead, {status.pending} pending", theme.RED
        elif status.pending and status.oldest_pending_age > 30:
            age = fmt.duration(status.oldest_pending_age)
            text, color = f"sync: {status.pending} pending, oldest {age}", theme.AMBER
        else:
            text, color = f"sync: ok ({status.pending} pending)", theme.GREEN
        self.sync.setText(f"● {text}")
        self.sync.setStyleSheet(f"color: {color}; font-weight: 600;")
        self.sync.setToolTip(status.last_error or "Central API delivery; click for the outbox")


class Nav(QListWidget):
    """The left navigation with live counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Nav")
        self.addItems(list(VIEWS))
        self.setFixedWidth(190)
        self.setCurrentRow(0)

    def set_counts(self, waiting: int, total: int, trouble: int) -> None:
        self.item(0).setText(f"QR wall   {waiting}" if waiting else "QR wall")
        self.item(1).setText(f"Sessions   {total}" + (f"  ·  {trouble}⚠" if trouble else ""))


class StatusTotals(QWidget):
    """State totals (each a filter shortcut) and machine load.

    Signals:
        sig_filter_requested(str): a total was clicked (chip group name).
    """

    sig_filter_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 0, 8, 0)
        for group in fmt.STATE_GROUPS:
            button = QToolButton()
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, g=group: self.sig_filter_requested.emit(g))
            self.buttons[group] = button
            row.addWidget(button)
        row.addStretch(1)
        self.load = QLabel()
        row.addWidget(self.load)

    def set_counts(self, counts: dict[SessionState, int], for_scan: int | None = None) -> None:
        """`for_scan`: the QR wall's own "waiting for a scan" count, so the wall, the
        navigation and this bar never show two numbers for one thing."""
        colors = {
            "connected": theme.GREEN,
            "waiting": theme.BLUE,
            "disconnected": theme.AMBER,
            "failed": theme.RED,
            "logged out": theme.STATE_COLORS[SessionState.LOGGED_OUT],
        }
        for group, states in fmt.STATE_GROUPS.items():
            n = sum(counts.get(s, 0) for s in states)
            text = f"● {n} {group}"
            if group == "waiting":
                text = f"● {n} waiting to link"
                if for_scan is not None:
                    others = max(0, n - for_scan)
                    text = f"● {for_scan} waiting for a scan" + (
                        f" · {others} starting or linking" if others else ""
                    )
            self.buttons[group].setText(text)
            self.buttons[group].setStyleSheet(f"color: {colors[group]};" if n else "")

    def set_load(self, cpu: float, memory: int, instances: int) -> None:
        """`cpu` is the sum over instances (100 = one core); shown as the average."""
        avg = cpu / instances if instances else 0.0
        self.load.setText(
            f"{instances} instances   cpu {avg:.0f}% avg   mem {fmt.size(memory) or '0'}"
        )


class ShortcutOverlay(QFrame):
    """A card listing the keyboard shortcuts, shown over the window by '?'."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 22, 28, 22)
        title = QLabel("Keyboard shortcuts")
        title.setObjectName("AppName")
        layout.addWidget(title)
        for keys, what in SHORTCUTS:
            line = QLabel(f"<b style='font-family:monospace'>{keys:<16}</b>&nbsp;&nbsp;{what}")
            layout.addWidget(line)
        hint = QLabel("Press Esc or ? to close")
        hint.setProperty("muted", True)
        layout.addWidget(hint)
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            return
        parent = self.parentWidget()
        self.adjustSize()
        if parent is not None:
            self.move((parent.width() - self.width()) // 2, (parent.height() - self.height()) // 3)
        self.show()
        self.raise_()
