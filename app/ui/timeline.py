"""A session's timeline: `TimelineModel` (rows of `TimelineEntry`) and its view.

Used by the grid's drawer and by the Diagnostics "Timeline" tab. Each row
shows the local time, the state, the reason code, the detail, and how long
after the previous step it happened (time to first QR, scan to connected).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.models import TimelineEntry
from app.operator import text as fmt
from app.ui import theme
from app.ui.table_model import RowTableModel

HEADERS = ("Time", "State", "Reason", "Detail", "After")


class TimelineModel(RowTableModel[TimelineEntry]):
    """One session's steps, oldest first; replaced wholesale when another session is shown."""

    headers = HEADERS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session_id = ""

    def set_entries(self, session_id: str, entries: Sequence[TimelineEntry]) -> None:
        # A different session is a different list: a reset is the honest signal here.
        self.beginResetModel()
        self.session_id = session_id
        self._rows = sorted(entries, key=lambda e: e.at)
        self.endResetModel()

    def entries(self) -> list[TimelineEntry]:
        return list(self._rows)

    def display(self, row: int, col: int) -> str:
        entry = self._rows[row]
        if col == 0:
            return fmt.clock(entry.at)
        if col == 1:
            return fmt.STATE_LABELS.get(entry.state, str(entry.state))
        if col == 2:
            return str(entry.reason or "")
        if col == 3:
            return entry.detail
        if col == 4 and row > 0:
            gap = (entry.at - self._rows[row - 1].at).total_seconds()
            return f"{gap:.2f} s" if gap < 10 else fmt.duration(gap)
        return ""

    def role_data(self, row: int, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return theme.state_color(self._rows[row].state)
        return None


class TimelineView(QTableView):
    """Read-only table of a `TimelineModel`."""

    def __init__(self, model: TimelineModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setShowGrid(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(28)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)


class TimelineDrawer(QWidget):
    """The grid's side panel: one session's timeline, and the way to the full one.

    Signals:
        sig_diagnose_requested(str): open this session's full timeline in Diagnose.
    """

    sig_diagnose_requested = Signal(str)

    def __init__(self, model: TimelineModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.session_id = ""  # known at once; the model's entries arrive later
        self.setMinimumWidth(420)  # time, state and reason readable without scrolling
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self.full = QPushButton("Full timeline in Diagnose")
        self.full.setToolTip("Every recorded step of this session, with details")
        self.full.clicked.connect(lambda: self.sig_diagnose_requested.emit(self.session_id))
        close = QPushButton("Close")
        close.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.full)
        top.addWidget(close)
        self.view = TimelineView(model)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 12, 8, 12)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    def show_session(self, session_id: str, name: str) -> None:
        self.session_id = session_id
        self.title.setText(f"<b>{name}</b><br><span>{session_id}</span>" if name else session_id)
        self.setVisible(True)
