"""Onboard: import a sheet, check every row, then scan the accounts one by one.

Step 1 choose a CSV/XLSX file or paste rows; step 2 every row is shown with a
check or the reason it is rejected (and its proxy, without the password), and
nothing is created yet; step 3 "Start scanning N accounts" creates the valid
ones and opens focus mode with progress (`OnboardingRun`). Rows with a phone
can be linked by pairing code instead of QR (customers onboarded by phone).
At the end, "Export results" writes one line per row with its result and
phone number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.import_rows import ImportFileError, ImportRow, parse_bytes, parse_text, results_csv
from app.domain.models import AccountSpec, SessionInfo
from app.domain.sheet_files import MAX_FILE_BYTES
from app.operator.onboarding import OnboardingRun
from app.ui import theme
from app.ui.table_model import RowTableModel

HEADERS = ("Row", "Workspace", "Label", "Phone", "Proxy", "Check")
CHECK_COL = 5


class ImportRowsModel(RowTableModel[ImportRow]):
    """The parsed rows with their verdicts (replaced as a whole for each new file)."""

    headers = HEADERS

    _results: dict[int, str] = {}  # sheet row -> the run's result, once settled

    def set_rows(self, rows: Sequence[ImportRow]) -> None:
        self.beginResetModel()  # a new file is a new table
        self._rows = list(rows)
        self._results = {}
        self.endResetModel()

    def set_results(self, results: dict[int, str]) -> None:
        """Show each settled row's result (connected, wrong phone, ...) in its Check cell."""
        if results != self._results and self._rows:
            self._results = dict(results)
            last = len(self._rows) - 1
            self.dataChanged.emit(self.index(0, CHECK_COL), self.index(last, CHECK_COL))

    def rows(self) -> list[ImportRow]:
        return list(self._rows)

    def display(self, row: int, col: int) -> str:
        r = self._rows[row]
        check = "✓ ready" if r.ok else r.error.split(": ", 1)[-1]
        if r.ok and r.warning:
            check = "✓ ready, " + r.warning.split(": ", 1)[-1]
        check = self._results.get(r.line, check)
        return (str(r.line), r.workspace_raw, r.label, r.phone_raw, r.proxy, check)[col]

    def role_data(self, row: int, col: int, role: int) -> Any:
        r = self._rows[row]
        result = self._results.get(r.line)
        if role == Qt.ItemDataRole.ToolTipRole and result and col == CHECK_COL:
            return result
        if role == Qt.ItemDataRole.ToolTipRole and (not r.ok or r.warning):
            return r.error or r.warning
        if role == Qt.ItemDataRole.ForegroundRole and col == CHECK_COL and result:
            return QColor(theme.GREEN if result == "connected" else theme.RED)
        if role == Qt.ItemDataRole.ForegroundRole and col == CHECK_COL:
            return QColor(theme.RED if not r.ok else theme.AMBER if r.warning else theme.GREEN)
        return None


class OnboardingView(QWidget):
    """The three onboarding steps.

    Signals:
        sig_create_requested(list): create these `AccountSpec`s and start scanning.
    """

    sig_create_requested = Signal(list)
    sig_rows_checked = Signal(int)  # valid rows of the sheet just loaded (0: none)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ImportRowsModel(self)
        self.run: OnboardingRun | None = None
        intro = QLabel(
            "<b>1.</b> Choose a CSV or Excel file, or paste rows, with the columns "
            "<code>workspace_id, label, phone, proxy</code> (phone and proxy optional).  "
            "<b>2.</b> Check the rows.  <b>3.</b> Start scanning."
        )
        intro.setWordWrap(True)
        choose = QPushButton("Choose file…")
        choose.clicked.connect(self._on_choose_clicked)
        self.paste = QPlainTextEdit()
        self.paste.setPlaceholderText(
            "or paste here, e.g.\nworkspace_id,label,phone\n12,Toko Maju,"
        )
        self.paste.setMaximumHeight(90)
        check = QPushButton("Check pasted rows")
        check.clicked.connect(self._on_check_clicked)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # A rejected row's reason is the point of this table: wrap it, never elide it.
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.start = QPushButton("Start scanning")
        self.start.setObjectName("Primary")
        self.start.setEnabled(False)
        self.start.clicked.connect(self._on_start_clicked)
        self.export = QPushButton("Export results…")
        self.export.setEnabled(False)
        self.export.clicked.connect(self._on_export_clicked)
        self.progress = QLabel()
        self.by_code = QCheckBox(
            "Link rows with a phone by pairing code (read it out to the customer)"
        )
        self.by_code.setToolTip(
            "Instead of a QR, each of these accounts shows an 8-character code the customer "
            "types in WhatsApp > Linked devices > Link with phone number"
        )
        top = QHBoxLayout()
        top.addWidget(choose)
        top.addWidget(self.paste, 1)
        top.addWidget(check)
        bottom = QHBoxLayout()
        bottom.addWidget(self.by_code)
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.export)
        bottom.addWidget(self.start)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    # ------------------------------------------------------------- loading

    def load_bytes(self, name: str, data: bytes) -> None:
        try:
            self._show(parse_bytes(name, data), name)
        except ImportFileError as exc:
            self._fail(f"{name}: {exc}")

    def load_text(self, text: str) -> None:
        try:
            self._show(parse_text(text), "pasted rows")
        except ImportFileError as exc:
            self._fail(str(exc))

    def _fail(self, text: str) -> None:
        self.model.set_rows([])
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {theme.RED};")
        self.start.setEnabled(False)
        self.sig_rows_checked.emit(0)

    def _show(self, rows: list[ImportRow], source: str) -> None:
        self.model.set_rows(rows)
        good = sum(r.ok for r in rows)
        bad = len(rows) - good
        warned = sum(bool(r.ok and r.warning) for r in rows)
        text = (
            f"{source}: {good} rows ready, {bad} rejected."
            if bad
            else f"{source}: all {good} rows ready."
        )
        if warned:
            text += f" {warned} without label or phone (hard to find later)."
        text += " Nothing is created until you start"
        # The flow opens login pages ahead meanwhile (`OnboardingFlow.warm_up`): say why
        # the desk gets busier before anything was created.
        text += "; login pages for the first ones are opening now." if good else "."
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {theme.AMBER if bad or warned else theme.GREEN};")
        self.start.setText(f"Start scanning {good} accounts")
        self.start.setEnabled(good > 0)
        self.sig_rows_checked.emit(good)

    # --------------------------------------------------------------- slots

    @Slot()
    def _on_choose_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose accounts", "", "Sheets (*.csv *.xlsx);;All files (*)"
        )
        if path:
            if (
                Path(path).stat().st_size > MAX_FILE_BYTES
            ):  # never read a huge file on the UI thread
                self._fail(f"{Path(path).name}: larger than {MAX_FILE_BYTES >> 20} MB; split it")
                return
            self.load_bytes(Path(path).name, Path(path).read_bytes())

    @Slot()
    def _on_check_clicked(self) -> None:
        self.load_text(self.paste.toPlainText())

    @Slot()
    def _on_start_clicked(self) -> None:
        specs: list[AccountSpec] = [r.spec for r in self.model.rows() if r.spec is not None]
        self.start.setEnabled(False)
        self.sig_create_requested.emit(specs)

    def begin(self, sessions: Sequence[SessionInfo]) -> OnboardingRun:
        """The accounts exist now: track their progress."""
        self.run = OnboardingRun(self.model.rows(), sessions, by_code=self.by_code.isChecked())
        self.export.setEnabled(True)
        self.update_progress()
        return self.run

    def creation_failed(self, message: str) -> None:
        """`add_accounts` refused the batch: nothing was created; say so, allow a retry."""
        self.message.setText(f"Nothing was created: {message}")
        self.message.setStyleSheet(f"color: {theme.RED};")
        self.start.setEnabled(any(r.ok for r in self.model.rows()))

    def update_progress(self) -> None:
        if self.run is not None:
            self.progress.setText(self.run.summary())
            self.model.set_results(self.run.row_results())

    @Slot()
    def _on_export_clicked(self) -> None:
        if self.run is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "onboarding.csv", "*.csv")
        if path:
            Path(path).write_text(results_csv(self.run.results()), encoding="utf-8")
            self.message.setText(f"Results written to {path}")
