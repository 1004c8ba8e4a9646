"""Diagnostics: timeline of any session, the sync outbox, instance logs, doctor, bundle.

The view asks for data through signals (`sig_*_requested`); the main window
runs the engine calls and hands results back with the `show_*` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.outbox import OutboxItem
from app.ui import theme
from app.ui.event_monitor import EventMonitor
from app.ui.outbox_model import OutboxModel
from app.ui.timeline import TimelineModel, TimelineView


class DiagnosticsView(QWidget):
    """Tabs: Timeline, Sync, Instance logs, Doctor, Export bundle, Events.

    Signals:
        sig_timeline_requested(str): show this session's timeline.
        sig_outbox_requested(): refresh the outbox.
        sig_retry_requested(list): retry these dead outbox rows (event ids; [] = every dead row).
        sig_log_requested(str): fetch this instance's log.
        sig_doctor_requested(): run the doctor checks.
        sig_bundle_requested(): export a diagnostics bundle.
    """

    sig_timeline_requested = Signal(str)
    sig_outbox_requested = Signal()
    sig_retry_requested = Signal(list)
    sig_log_requested = Signal(str)
    sig_doctor_requested = Signal()
    sig_bundle_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.timeline_model = TimelineModel(self)
        self.session_input = QLineEdit()
        self.session_input.setPlaceholderText("session id (or double-click a row in Sessions)")
        self.session_input.returnPressed.connect(
            lambda: self.sig_timeline_requested.emit(self.session_input.text().strip())
        )
        tl = QWidget()
        tl_layout = QVBoxLayout(tl)
        tl_layout.addWidget(self.session_input)
        tl_layout.addWidget(TimelineView(self.timeline_model), 1)
        self.tabs.addTab(tl, "Timeline")

        self.outbox_model = OutboxModel(self)
        self.outbox = QTableView()
        self.outbox.setModel(self.outbox_model)
        self.outbox.verticalHeader().hide()
        self.outbox.setShowGrid(False)
        self.outbox.setAlternatingRowColors(True)
        self.outbox.setWordWrap(False)
        self.outbox.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.outbox.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.outbox.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.outbox.verticalHeader().setDefaultSectionSize(30)
        for col, width in enumerate((80, 170, 270, 96, 60, 96)):
            self.outbox.setColumnWidth(col, width)
        self.outbox.horizontalHeader().setStretchLastSection(True)
        self.outbox.selectionModel().selectionChanged.connect(self._on_outbox_selection_changed)
        self.outbox_summary = QLabel()
        self.outbox_detail = QLabel("Select a row to see the central API's full answer.")
        self.outbox_detail.setWordWrap(True)
        self.outbox_detail.setProperty("muted", True)
        self.outbox_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_selected = QPushButton("Retry selected")
        self.retry_selected.setToolTip("Send the selected dead events again")
        self.retry_selected.setEnabled(False)
        self.retry_selected.clicked.connect(self._on_retry_selected_clicked)
        self.retry_all = QPushButton("Retry all dead")
        self.retry_all.setToolTip("Send every dead event again (fix the cause first)")
        self.retry_all.setEnabled(False)
        self.retry_all.clicked.connect(lambda: self.sig_retry_requested.emit([]))
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.sig_outbox_requested)
        sync = QWidget()
        s_layout = QVBoxLayout(sync)
        s_row = QHBoxLayout()
        s_row.addWidget(self.outbox_summary, 1)
        s_row.addWidget(refresh)
        s_row.addWidget(self.retry_selected)
        s_row.addWidget(self.retry_all)
        s_layout.addLayout(s_row)
        s_layout.addWidget(self.outbox, 1)
        s_layout.addWidget(self.outbox_detail)
        self.tabs.addTab(sync, "Sync")

        self.instance_pick = QComboBox()
        self.instance_pick.currentTextChanged.connect(self._on_instance_pick_changed)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log.setPlaceholderText("Pick an instance to see its log.")
        font = self.log.font()
        font.setFamily("monospace")
        self.log.setFont(font)
        logs = QWidget()
        l_layout = QVBoxLayout(logs)
        l_layout.addWidget(self.instance_pick)
        l_layout.addWidget(self.log, 1)
        self.tabs.addTab(logs, "Instance logs")
        self._logs_tab = logs

        self.doctor = QTreeWidget()
        self.doctor.setRootIsDecorated(False)
        self.doctor.setHeaderLabels(["", "Check", "Found", "What to do"])
        self.doctor.setColumnWidth(0, 70)
        self.doctor.setColumnWidth(1, 150)
        self.doctor.setColumnWidth(2, 420)
        run = QPushButton("Run checks")
        run.clicked.connect(self.sig_doctor_requested)
        doc = QWidget()
        d_layout = QVBoxLayout(doc)
        d_layout.addWidget(run, 0, Qt.AlignmentFlag.AlignLeft)
        d_layout.addWidget(self.doctor, 1)
        self.tabs.addTab(doc, "Doctor")
        self._doctor_tab = doc

        self.bundle_status = QLabel(
            "A zip with redacted settings, session states, the outbox without payloads, "
            "instance logs and doctor results. No secrets, QR codes or login state."
        )
        self.bundle_status.setWordWrap(True)
        export = QPushButton("Export diagnostics bundle…")
        export.clicked.connect(self.sig_bundle_requested)
        bun = QWidget()
        b_layout = QVBoxLayout(bun)
        b_layout.addWidget(self.bundle_status)
        b_layout.addWidget(export, 0, Qt.AlignmentFlag.AlignLeft)
        b_layout.addStretch(1)
        self.tabs.addTab(bun, "Export bundle")
        self.events = EventMonitor()
        self.tabs.addTab(self.events, "Events")
        # Opening the Doctor tab runs the checks: nobody should meet an empty list.
        self.tabs.currentChanged.connect(self._on_tab_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.tabs)

    # ---------------------------------------------------------- show data

    def show_timeline(self, session_id: str, entries: Sequence[Any]) -> None:
        self.session_input.setText(session_id)
        self.timeline_model.set_entries(session_id, entries)

    def show_outbox(self, items: Sequence[OutboxItem]) -> None:
        self.outbox_model.set_items(items)
        pending, dead = self.outbox_model.counts()
        if not pending and not dead:
            text = "Everything has been delivered to the central API."
        else:
            text = f"{pending} pending  ·  {dead} dead"
            if dead:
                text += "  — dead events were refused by the central API; fix the cause, then retry"
        self.outbox_summary.setText(text)
        self.retry_all.setEnabled(dead > 0)
        self._on_outbox_selection_changed()

    def selected_dead_ids(self) -> list[str]:
        rows = self.outbox.selectionModel().selectedRows()
        items = [self.outbox_model.item(r.row()) for r in rows]
        return [str(o.event_id) for o in items if o.state == "dead"]

    @Slot()
    def _on_outbox_selection_changed(self, *args: object) -> None:
        rows = self.outbox.selectionModel().selectedRows()
        self.retry_selected.setEnabled(bool(self.selected_dead_ids()))
        if len(rows) == 1:
            o = self.outbox_model.item(rows[0].row())
            status = f"HTTP {o.last_status}: " if o.last_status else ""
            self.outbox_detail.setText(
                f"{o.name} for {o.session_id} ({o.attempts} attempts): "
                f"{status}{o.last_error or 'no answer yet'}"
            )

    @Slot()
    def _on_retry_selected_clicked(self) -> None:
        ids = self.selected_dead_ids()
        if ids:
            self.sig_retry_requested.emit(ids)

    def set_instances(self, ids: Sequence[str]) -> None:
        current = self.instance_pick.currentText()
        if list(ids) != [self.instance_pick.itemText(i) for i in range(self.instance_pick.count())]:
            self.instance_pick.blockSignals(True)
            self.instance_pick.clear()
            self.instance_pick.addItems(list(ids))
            self.instance_pick.blockSignals(False)
            if current in ids:
                self.instance_pick.setCurrentText(current)

    def show_log(self, lines: Sequence[str], source: str = "") -> None:
        """The log's last lines; with none, a placeholder that says where it would be."""
        iid = self.instance_pick.currentText()
        where = f" (log file: {source})" if source else ""
        self.log.setPlaceholderText(
            f"No log lines from {iid or 'this instance'} yet{where}. An instance logs as it "
            "starts, links and loses sessions; `pairdesk serve -v` shows them live."
        )
        self.log.setPlainText("\n".join(lines))

    def show_doctor(self, checks: Sequence[Any]) -> None:
        self.doctor.clear()
        for c in checks:
            item = QTreeWidgetItem(
                ["pass" if c.ok else "FAIL", c.name, c.detail, getattr(c, "advice", "")]
            )
            item.setForeground(0, theme.state_color_for_text("ok" if c.ok else "dead"))
            self.doctor.addTopLevelItem(item)

    def show_bundle_result(self, text: str) -> None:
        self.bundle_status.setText(text)

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self._doctor_tab:
            self.sig_doctor_requested.emit()

    def show_instance_log(self, instance_id: str) -> None:
        """Open the Instance logs tab on this instance (from its card)."""
        self.tabs.setCurrentWidget(self._logs_tab)
        if self.instance_pick.currentText() == instance_id:
            self.sig_log_requested.emit(instance_id)
        else:
            self.instance_pick.setCurrentText(instance_id)

    @Slot(str)
    def _on_instance_pick_changed(self, instance_id: str) -> None:
        if instance_id:
            self.sig_log_requested.emit(instance_id)
