"""The health grid: every session in one sortable, filterable table.

State is a coloured pill with text. Filter chips (with live counts) and a
text filter drive `SessionsProxy`; selecting rows shows the bulk bar; a
context menu offers the same actions; double-click opens the timeline drawer.
At 3,000 rows the table stays smooth because rows have one fixed height,
columns have fixed widths (no resize-to-contents), the model sends
`dataChanged` only for the cells that changed, and the once-a-second age
refresh repaints only the age cells on screen (sorted by an age column, the
rows are re-sorted every `RESORT_TICKS` seconds instead of continuously).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.states import SessionState
from app.operator import text as fmt
from app.ui import theme
from app.ui.session_row import AGE_COLS, ID_ROLE, STATE_ROLE, Col
from app.ui.sessions_model import SessionsModel, SessionsProxy

ACTIONS = (
    ("start", "Start"),
    ("stop", "Stop"),
    ("restart", "Restart"),
    ("logout", "Log out"),
    ("regenerate_qr", "New QR"),
    ("request_pairing_code", "Pairing code…"),
    ("open_window", "Open in a window"),
    ("set_proxy", "Set proxy…"),
)
# Sized so State, Reason, Label and Phone fit a 1024 px window; the rest scroll.
WIDTHS = {
    Col.STATE: 140,
    Col.REASON: 220,
    Col.WORKSPACE: 104,
    Col.LABEL: 150,
    Col.PHONE: 150,
    Col.INSTANCE: 90,
    Col.CONNECTED_FOR: 132,
    Col.HEARTBEAT: 132,
    Col.QR_AGE: 80,
    Col.RESTARTS: 76,
    Col.MEMORY: 80,
    Col.PROXY: 160,
    Col.SESSION: 260,
}
HIDDEN = (Col.SESSION,)  # shown from the header's menu
RESORT_TICKS = 5


class StatePillDelegate(QStyledItemDelegate):
    """Paints the state cell as a rounded coloured pill with the state's words.

    The cell background comes from the style (selection, alternating rows); the
    pill's size per text is measured once per font, not on every paint.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sizes: dict[tuple[str, str], tuple[int, int]] = {}

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        opt.index = index  # type: ignore[assignment]  # the stub is narrower than Qt
        opt.text = ""
        style = opt.widget.style()
        style.drawControl(style.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        text = index.data() or ""
        color = theme.state_color(SessionState(index.data(STATE_ROLE)))
        key = (option.font.key(), text)
        size = self._sizes.get(key)
        if size is None:
            fm = QFontMetrics(option.font)
            size = self._sizes[key] = (fm.horizontalAdvance(text) + 20, fm.height() + 6)
        w, h = size
        rect = QRectF(option.rect.x() + 8, option.rect.center().y() - h / 2 + 0.5, w, h)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(rect, h / 2, h / 2)
        painter.setPen(QColor("white"))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()


class HealthGrid(QWidget):
    """Filters, the table and the bulk bar.

    Signals:
        sig_action_requested(str, list): an action ('start', 'stop', 'restart',
            'logout', 'regenerate_qr', 'request_pairing_code', 'open_window',
            'set_proxy') for these session ids.
        sig_timeline_requested(str): double-click on a row (session id): the side panel.
        sig_diagnose_requested(str): "Full timeline in Diagnose" from the row's menu.
    """

    sig_action_requested = Signal(str, list)
    sig_timeline_requested = Signal(str)
    sig_diagnose_requested = Signal(str)

    def __init__(self, model: SessionsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = SessionsProxy(self)
        self.proxy.setSourceModel(model)
        self.chips: dict[str, QPushButton] = {}
        chips = QHBoxLayout()
        chips.setSpacing(8)
        for name in ("all", *fmt.STATE_GROUPS):
            chip = QPushButton(name)
            chip.setObjectName("Chip")
            chip.setCheckable(True)
            chip.setAutoExclusive(True)
            chip.clicked.connect(self._on_chip_clicked)
            self.chips[name] = chip
            chips.addWidget(chip)
        self.chips["all"].setChecked(True)
        chips.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by label, phone, workspace, session id…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(220)
        self.search.textChanged.connect(self._on_search_text_changed)
        chips.addWidget(self.search)

        self.bulk = QFrame()
        self.bulk.setObjectName("BulkBar")
        bulk_row = QHBoxLayout(self.bulk)
        bulk_row.setContentsMargins(12, 6, 12, 6)
        self.bulk_label = QLabel()
        bulk_row.addWidget(self.bulk_label)
        bulk_row.addStretch(1)
        self.bulk_buttons: list[QPushButton] = []
        for key, text in ACTIONS:
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, k=key: self._request(k, self.selected_ids()))
            bulk_row.addWidget(button)
            self.bulk_buttons.append(button)
        # Always there (disabled without a selection): a bar that appeared on selection
        # pushed the rows down under the pointer, so a double-click hit another row.
        self.bulk.setFixedHeight(self.bulk.sizeHint().height())

        self.empty = QFrame()
        empty_row = QHBoxLayout(self.empty)
        empty_row.setContentsMargins(12, 6, 12, 6)
        self.empty_label = QLabel()
        self.clear_button = QPushButton("Clear filter")
        self.clear_button.clicked.connect(self.clear_filter)
        empty_row.addWidget(self.empty_label, 1)
        empty_row.addWidget(self.clear_button)
        self.empty.setVisible(False)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Col.STATE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setItemDelegateForColumn(Col.STATE, StatePillDelegate(self.table))
        vh = self.table.verticalHeader()
        vh.hide()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(32)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setHighlightSections(False)
        for col, width in WIDTHS.items():
            self.table.setColumnWidth(col, width)
        hh.moveSection(hh.visualIndex(Col.REASON), 1)  # why, right next to the state
        for col in HIDDEN:
            self.table.setColumnHidden(col, True)
        hh.setStretchLastSection(False)
        hh.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        hh.customContextMenuRequested.connect(self._on_header_context_menu)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_context_menu)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(chips)
        layout.addWidget(self.bulk)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset):
            signal.connect(self._update_empty)
        self.proxy.layoutChanged.connect(self._update_empty)
        self._on_selection_changed()
        self._update_empty()
        model.sig_counts_changed.connect(self._on_model_counts_changed)
        model.sig_ages_due.connect(self._on_model_ages_due)
        self._ticks = 0
        self._on_model_counts_changed(model.counts())

    # -------------------------------------------------------------- public

    def selected_ids(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows()
        return [str(self.proxy.data(r, ID_ROLE)) for r in rows]

    def set_filter(self, group: str) -> None:
        """Show one chip's states ('all' for everything)."""
        chip = self.chips.get(group, self.chips["all"])
        chip.setChecked(True)
        self.proxy.set_states(fmt.STATE_GROUPS.get(group))
        self._update_empty()

    def clear_filter(self) -> None:
        self.search.clear()
        self.set_filter("all")
        self._update_empty()

    def empty_message(self) -> str:
        """What the grid says instead of a blank table ('' when rows are shown)."""
        return self.empty_label.text() if self.empty.isVisibleTo(self) else ""

    # --------------------------------------------------------------- slots

    @Slot()
    def _update_empty(self, *args: object) -> None:
        if self.model.rowCount() == 0:  # nothing to filter: say where accounts come from
            self.empty_label.setText("No accounts yet: add them in Onboard (Ctrl+4).")
            self.clear_button.setVisible(False)
            self.empty.setVisible(True)
            return
        self.clear_button.setVisible(True)
        hidden_all = self.proxy.rowCount() == 0
        if hidden_all:
            chip = next((n for n, c in self.chips.items() if c.isChecked()), "all")
            parts = [f"state “{chip}”"] if chip != "all" else []
            if self.search.text().strip():
                parts.append(f"text “{self.search.text().strip()}”")
            self.empty_label.setText(
                f"No account matches {' and '.join(parts) or 'this filter'} "
                f"({self.model.rowCount()} hidden)."
            )
        self.empty.setVisible(hidden_all)

    @Slot(QPoint)
    def _on_header_context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for col in Col:
            action = QAction(str(self.model.headerData(col, Qt.Orientation.Horizontal)), menu)
            action.setCheckable(True)
            action.setChecked(not self.table.isColumnHidden(col))
            action.setEnabled(col != Col.STATE)
            action.toggled.connect(lambda on, c=col: self.table.setColumnHidden(c, not on))
            menu.addAction(action)
        menu.popup(self.table.horizontalHeader().mapToGlobal(pos))

    @Slot()
    def _on_chip_clicked(self) -> None:
        for name, chip in self.chips.items():
            if chip.isChecked():
                self.proxy.set_states(fmt.STATE_GROUPS.get(name))
        self._update_empty()

    @Slot(str)
    def _on_search_text_changed(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_empty()

    @Slot(dict)
    def _on_model_counts_changed(self, counts: dict[SessionState, int]) -> None:
        total = sum(counts.values())
        self.chips["all"].setText(f"all  {total}")
        for name, states in fmt.STATE_GROUPS.items():
            self.chips[name].setText(f"{name}  {sum(counts.get(s, 0) for s in states)}")

    @Slot()
    def _on_model_ages_due(self) -> None:
        self._ticks += 1
        if self.proxy.sorted_by_age() and self._ticks % RESORT_TICKS == 0:
            self.proxy.resort()
            return
        if not self.table.isVisible():
            return
        # Ages are computed when painted: repainting the visible age cells is the refresh.
        header = self.table.horizontalHeader()
        viewport = self.table.viewport()
        for col in AGE_COLS:
            x = header.sectionViewportPosition(col)
            width = header.sectionSize(col)
            if width and x + width > 0 and x < viewport.width():
                viewport.update(x, 0, width, viewport.height())

    @Slot()
    def _on_selection_changed(self, *args: object) -> None:
        n = len(self.table.selectionModel().selectedRows())
        for button in self.bulk_buttons:
            button.setEnabled(n > 0)
        self.bulk_label.setText(f"{n} selected" if n else "Select rows for bulk actions")

    @Slot(QModelIndex)
    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        self.sig_timeline_requested.emit(str(index.data(ID_ROLE)))

    @Slot(QPoint)
    def _on_table_context_menu(self, pos: QPoint) -> None:
        ids = self.selected_ids()
        if ids:
            self.row_menu(ids).popup(self.table.viewport().mapToGlobal(pos))

    def row_menu(self, ids: list[str]) -> QMenu:
        """The rows' menu: the actions, the side panel and the full timeline."""
        menu = QMenu(self)
        for key, text in ACTIONS:
            action = QAction(f"{text} ({len(ids)})" if len(ids) > 1 else text, menu)
            action.triggered.connect(lambda _=False, k=key: self._request(k, ids))
            menu.addAction(action)
        menu.addSeparator()
        timeline = menu.addAction("Show timeline (side panel)")
        timeline.triggered.connect(lambda: self.sig_timeline_requested.emit(ids[0]))
        full = menu.addAction("Full timeline in Diagnose")
        full.triggered.connect(lambda: self.sig_diagnose_requested.emit(ids[0]))
        return menu

    def _request(self, action: str, ids: list[str]) -> None:
        if ids:
            self.sig_action_requested.emit(action, ids)
