"""The health grid: every session in one sortable, filterable table.

State is a coloured pill with text. Filter chips (with live counts) and a
text filter drive `SessionsProxy`; selecting rows shows the bulk bar; a
context menu offers the same actions; double-click opens the timeline drawer.
At 3,000 rows the table stays smooth because rows have one fixed height,
columns have fixed widths (no resize-to-contents), the model sends
`dataChanged` only for the cells that changed, the view paints from a copy
of the cells in Qt's own storage (`CellCache`: no call into Python per cell
and role), and the once-a-second age refresh repaints only the age cells on
screen (just before a paint, the ages of the rows on screen are read from
the model into the copy, once per tick of its clock).
"""

from __future__ import annotations

import math

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRectF,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QPaintDevice,
    QPainter,
    QPixmap,
)
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
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.domain.states import SessionState
from app.operator import text as fmt
from app.ui import theme
from app.ui.cell_cache import CellCache
from app.ui.session_row import AGE_COLS, ID_ROLE, SORT_ROLE, STATE_ROLE, Col
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
# What the view reads from each cell (ages' text is read again before a paint).
CACHED_ROLES = (Qt.ItemDataRole.DisplayRole, SORT_ROLE)
FIXED_ROLES = (Qt.ItemDataRole.TextAlignmentRole,)
ROW_ROLES = (STATE_ROLE, ID_ROLE)  # on column 0: the pill's state, the row's session id


class StatePillDelegate(QStyledItemDelegate):
    """Paints the state cell as a rounded coloured pill with the state's words.

    The cell background comes from the style (selection, alternating rows).
    Each pill (words, state, font, pixel ratio) is drawn once into a pixmap
    and then copied: antialiased shapes and text cost more than the copy, and
    a grid repaints its visible pills many times a second.
    """

    MAX_PILLS = 256  # words come with reasons; a bound, should they ever vary a lot

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pills: dict[tuple[str, str, str, float], QPixmap] = {}

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
        pill = self._pill(index.data() or "", index.data(STATE_ROLE), option.font, painter.device())
        height = round(pill.height() / pill.devicePixelRatio())
        painter.drawPixmap(option.rect.x() + 8, option.rect.center().y() - height // 2, pill)

    def _pill(self, text: str, state: str, font: QFont, device: QPaintDevice) -> QPixmap:
        ratio = device.devicePixelRatioF() if device is not None else 1.0
        key = (font.key(), text, state, ratio)
        pill = self._pills.get(key)
        if pill is not None:
            return pill
        fm = QFontMetrics(font)
        w, h = fm.horizontalAdvance(text) + 20, fm.height() + 6
        pill = QPixmap(math.ceil(w * ratio), math.ceil(h * ratio))
        pill.setDevicePixelRatio(ratio)
        pill.fill(Qt.GlobalColor.transparent)
        p = QPainter(pill)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(theme.state_color(SessionState(state)))
        rect = QRectF(0, 0, w, h)
        p.drawRoundedRect(rect, h / 2, h / 2)
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
        p.end()
        if len(self._pills) >= self.MAX_PILLS:
            self._pills.clear()
        self._pills[key] = pill
        return pill


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
        self._ages_tick = 0  # the model's clock ticks seen: ages on screen are read once per tick
        self.cells = self._cache_cells()
        model.modelReset.connect(self._on_model_reset)
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
        # Tooltips come from the model (the cache keeps none: few are ever shown), and
        # the ages of the rows on screen are read again before the viewport paints.
        self.table.viewport().installEventFilter(self)
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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and watched is self.table.viewport():
            self._refresh_ages_on_screen()
            return False
        if event.type() == QEvent.Type.ToolTip and watched is self.table.viewport():
            assert isinstance(event, QHelpEvent)
            index = self.table.indexAt(event.pos())
            tip = self._model_text(index, Qt.ItemDataRole.ToolTipRole) if index.isValid() else ""
            if tip:
                QToolTip.showText(event.globalPos(), tip, self.table.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------- internals

    def _cache_cells(self) -> CellCache:
        """A fresh copy of the model's cells as the proxy's source (the old one goes)."""
        old = self.proxy.sourceModel()
        cells = CellCache(
            self.model,
            roles=CACHED_ROLES,
            fixed_roles=FIXED_ROLES,
            first_column_roles=ROW_ROLES,
            live_columns=AGE_COLS,
        )
        cells.setParent(self)
        self.proxy.setSourceModel(cells)
        if isinstance(old, CellCache):
            old.detach()  # at once: deleteLater() waits for the event loop
            old.deleteLater()
        return cells

    def _model_text(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> str:
        """A role of the model's own cell behind a cell of the table."""
        row = self.proxy.mapToSource(index).row()
        return str(self.model.cell(row, index.column(), int(role)) or "")

    @Slot()
    def _on_model_reset(self) -> None:
        self.cells = self._cache_cells()

    def _refresh_ages_on_screen(self) -> None:
        """The ages of the rows about to be painted, read into the cache once per tick
        of the model's clock (a row scrolled into view is read at its first paint)."""
        first = self.table.rowAt(0)
        if first < 0:
            return
        last = self.table.rowAt(self.table.viewport().height() - 1)
        if last < 0:
            last = self.proxy.rowCount() - 1
        proxy, source_row = self.proxy, self.proxy.mapToSource
        rows = [source_row(proxy.index(r, 0)).row() for r in range(first, last + 1)]
        self.cells.refresh_live(rows, self._ages_tick)

    @Slot()
    def _on_model_ages_due(self) -> None:
        self._ages_tick += 1
        if not self.table.isVisible():
            return
        # Repainting the visible age cells is the refresh: their text is read before it.
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
        self.sig_timeline_requested.emit(str(index.siblingAtColumn(0).data(ID_ROLE)))

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
