"""Diagnose › Events: the engine's events, live, as readable rows (JSON on demand).

Every event the console receives is kept (the last `KEEP`); the table shows
those that pass the filters (session id text, event type, "hide heartbeats
and load samples", on by default since they arrive every few seconds per
session). "Pause" holds new rows back without losing them (they are kept
and shown on resume); "Export…" writes the shown rows as JSON lines.

QR strings are login material: the JSON shows and exports them only as
their length, like the diagnostics bundle.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.events import EngineEvent
from app.operator import text as fmt
from app.ui.table_model import RowTableModel

KEEP = 5000
HEADERS = ("Time", "Type", "Session", "What")
NOISY = frozenset({"heartbeat", "instance_load"})
SECRET_FIELDS = frozenset({"qr"})


def event_json(event: EngineEvent) -> dict[str, Any]:
    """The event as plain JSON values, its type first, QR strings reduced to their length."""
    out: dict[str, Any] = {"type": event.type}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name in SECRET_FIELDS and value:
            value = f"(QR, {len(str(value))} characters)"
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def summary(event: EngineEvent) -> str:
    """One readable line: the fields an operator looks at first."""
    data = event_json(event)
    skip = {"type", "at", "session_id", "workspace_id"}
    parts = [f"{k}={v}" for k, v in data.items() if k not in skip and v not in ("", None, 0, [])]
    return "  ".join(parts)


class EventsModel(RowTableModel[EngineEvent]):
    headers = HEADERS

    def display(self, row: int, col: int) -> str:
        ev = self._rows[row]
        if col == 0:
            return fmt.clock(ev.at)
        if col == 1:
            return ev.type
        if col == 2:
            return str(getattr(ev, "session_id", "") or getattr(ev, "instance_id", ""))
        return summary(ev)

    def event_at(self, row: int) -> EngineEvent:
        return self._rows[row]

    def set_events(self, events: Sequence[EngineEvent]) -> None:
        self.beginResetModel()
        self._rows = list(events)
        self.endResetModel()

    def append(self, events: Sequence[EngineEvent]) -> None:
        if not events:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(events) - 1)
        self._rows.extend(events)
        self.endInsertRows()


class EventMonitor(QWidget):
    """Signals:
    sig_export_requested(): "Export…" (the window asks where, then calls `export`).
    """

    sig_export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._all: deque[EngineEvent] = deque(maxlen=KEEP)
        self._held: list[EngineEvent] = []
        self.model = EventsModel(self)
        self.session_filter = QLineEdit()
        self.session_filter.setPlaceholderText("session id contains…")
        self.session_filter.setClearButtonEnabled(True)
        self.session_filter.textChanged.connect(self._refilter)
        self.type_filter = QComboBox()
        self.type_filter.addItem("all types")
        self.type_filter.currentTextChanged.connect(self._refilter)
        self.hide_noisy = QCheckBox("hide heartbeats and load samples")
        self.hide_noisy.setChecked(True)
        self.hide_noisy.toggled.connect(self._refilter)
        self.pause = QPushButton("Pause")
        self.pause.setCheckable(True)
        self.pause.toggled.connect(self._on_pause_toggled)
        export = QPushButton("Export…")
        export.clicked.connect(self.sig_export_requested)
        self.status = QLabel()
        self.status.setProperty("muted", True)
        bar = QHBoxLayout()
        bar.addWidget(self.session_filter, 2)
        bar.addWidget(self.type_filter, 1)
        bar.addWidget(self.hide_noisy)
        bar.addWidget(self.pause)
        bar.addWidget(export)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        for col, width in enumerate((90, 110, 260)):
            self.table.setColumnWidth(col, width)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.json = QPlainTextEdit()
        self.json.setReadOnly(True)
        self.json.setPlaceholderText("Select an event to see it as JSON.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.json)
        split.setStretchFactor(0, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self._update_status()

    # --------------------------------------------------------------- feed

    @Slot(list)
    def add(self, events: Sequence[EngineEvent]) -> None:
        """Events from the engine host (any kind), in order."""
        if self.pause.isChecked():
            self._held.extend(events)
            del self._held[:-KEEP]
            self._update_status()
            return
        self._take(events)

    def _take(self, events: Sequence[EngineEvent]) -> None:
        dropped = max(0, len(self._all) + len(events) - KEEP)
        self._all.extend(events)
        for ev in events:
            if self.type_filter.findText(ev.type) < 0:
                self.type_filter.addItem(ev.type)
        if dropped:
            self._refilter()  # the oldest left: rebuild rather than shift rows
        else:
            self.model.append([ev for ev in events if self._passes(ev)])
        self._update_status()

    # ------------------------------------------------------------- filters

    def _passes(self, event: EngineEvent) -> bool:
        kind = self.type_filter.currentText()
        if kind != "all types" and event.type != kind:
            return False
        if kind == "all types" and self.hide_noisy.isChecked() and event.type in NOISY:
            return False
        text = self.session_filter.text().strip().casefold()
        sid = str(getattr(event, "session_id", "") or getattr(event, "instance_id", ""))
        return not text or text in sid.casefold()

    @Slot()
    def _refilter(self, *args: object) -> None:
        self.model.set_events([ev for ev in self._all if self._passes(ev)])
        self.json.clear()
        self._update_status()

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        self.pause.setText("Resume" if paused else "Pause")
        if not paused and self._held:
            held, self._held = self._held, []
            self._take(held)
        self._update_status()

    @Slot()
    def _on_selection_changed(self, *args: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            event = self.model.event_at(rows[0].row())
            self.json.setPlainText(json.dumps(event_json(event), indent=2, ensure_ascii=False))

    def _update_status(self) -> None:
        held = f"  ·  paused, {len(self._held)} new held back" if self.pause.isChecked() else ""
        self.status.setText(
            f"{self.model.rowCount()} shown of {len(self._all)} received (last {KEEP} kept){held}"
        )

    # -------------------------------------------------------------- export

    def export(self, path: Path) -> int:
        """Write the shown events as JSON lines; returns how many."""
        n = self.model.rowCount()
        with path.open("w", encoding="utf-8") as fh:
            for row in range(n):
                fh.write(
                    json.dumps(event_json(self.model.event_at(row)), ensure_ascii=False) + "\n"
                )
        return n
