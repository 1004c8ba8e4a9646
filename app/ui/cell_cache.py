"""`CellCache`: a table model's cells kept in Qt's own storage, for a view to paint.

Why it exists: a view over a Python model calls back into Python for every
role of every cell it paints, and through a sort/filter proxy each of those
calls also maps the index through the model's `index()`, which asks Python
for `rowCount()` and `columnCount()` again. The health grid's 3,000 rows
showed about 200 cells a frame at about 20 Python calls each: 13-14 ms of
the GUI thread per repaint. `QStandardItemModel` answers all of that in
C++, so the cache copies each cell's roles once per change (a batch of
engine events touches a few rows) and the view paints from it.

Rows stay in the source's order: cache row N is source row N (the proxy's
`filterAcceptsRow` reads the source's rows through `row_at`). The source may
insert rows and change cells; a reset of the source is met by building a
new cache (`HealthGrid` does), which keeps this class free of reset states.

Columns in `live_columns` hold text that moves with the clock (ages). It is
copied like any other cell, and `refresh_live()` copies it again for the rows
a view is about to paint, at most once per row and clock tick, without
signals: the proxy and the view read the cells as they paint, and nothing
else in them depends on that text. (Before, a Python delegate asked the
source at every paint of every age cell: 2 ms of a 7.7 ms repaint of the
health grid, docs/BENCHMARKS.md "Age cells painted from the copy".) Their
sort role is copied like any other, so the source must give those columns a
sort key that does not move with the clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, SignalInstance
from PySide6.QtGui import QStandardItem, QStandardItemModel

from app.ui.session_row import Index

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)


class CellSource(Protocol):
    """A flat table model that answers a cell by numbers, without a model index
    (building one calls back into `rowCount()` and `columnCount()`), and that
    keeps one record per row for the proxy's filter."""

    rowsInserted: SignalInstance
    dataChanged: SignalInstance

    def rowCount(self) -> int: ...
    def columnCount(self) -> int: ...
    def headerData(self, section: int, orientation: Qt.Orientation) -> Any: ...
    def cell(self, row: int, col: int, role: int) -> Any: ...
    def row_at(self, row: int) -> Any: ...


class CellCache(QStandardItemModel):
    """The cells of `source`, copied role by role and kept up to date.

    Args:
        roles: copied for every cell.
        fixed_roles: copied once, when a row arrives (alignment): they never change.
        first_column_roles: copied for column 0 only (a row's id or state, read
            through `selectedRows()`).
        live_columns: their DisplayRole moves with the clock (`refresh_live()`).
    """

    def __init__(
        self,
        source: CellSource,
        *,
        roles: Sequence[int],
        fixed_roles: Sequence[int] = (),
        first_column_roles: Sequence[int] = (),
        live_columns: Collection[int] = (),
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.source = source
        self._roles = tuple(int(r) for r in roles)
        self._fixed_roles = tuple(int(r) for r in fixed_roles)
        self._first_roles = tuple(int(r) for r in first_column_roles)
        self._live = tuple(sorted(int(c) for c in live_columns))
        self._live_tick: dict[int, object] = {}  # row -> the clock tick its ages were read at
        self._columns = source.columnCount()
        self.setColumnCount(self._columns)
        for col in range(self._columns):
            self.setHeaderData(
                col, Qt.Orientation.Horizontal, source.headerData(col, Qt.Orientation.Horizontal)
            )
        rows = source.rowCount()
        if rows:
            self.setRowCount(rows)  # nobody listens yet: filled in place
            self._fill(0, rows - 1, 0, self._columns - 1, fresh=True)
        source.rowsInserted.connect(self._on_source_rows_inserted)
        source.dataChanged.connect(self._on_source_data_changed)

    def detach(self) -> None:
        """Stop following the source (a new cache replaces this one)."""
        self.source.rowsInserted.disconnect(self._on_source_rows_inserted)
        self.source.dataChanged.disconnect(self._on_source_data_changed)

    def refresh_live(self, rows: Iterable[int], tick: object) -> None:
        """Read the live columns' text of `rows` from the source again, unless
        already read at this `tick` (any value that changes at each tick of the
        source's clock). No signal: only a view about to paint these rows needs it."""
        if not self._live:
            return
        cell, live, seen = self.source.cell, self._live, self._live_tick
        blocked = self.blockSignals(True)
        try:
            for row in rows:
                if seen.get(row) == tick:
                    continue
                seen[row] = tick
                for col in live:
                    item = self.item(row, col)
                    if item is None:
                        continue
                    text = cell(row, col, _DISPLAY)
                    if item.data(_DISPLAY) != text:
                        item.setData(text, _DISPLAY)
        finally:
            self.blockSignals(blocked)

    def row_at(self, row: int) -> Any:
        """The source's record of a row (for the proxy's filter), when it has one."""
        return self.source.row_at(row)

    def _on_source_rows_inserted(self, parent: Index, first: int, last: int) -> None:
        if parent.isValid():
            return
        self.insertRows(first, last - first + 1)
        self._refresh(first, last, 0, self._columns - 1, fresh=True)

    def _on_source_data_changed(
        self, top_left: Index, bottom_right: Index, roles: Sequence[int] = ()
    ) -> None:
        if top_left.isValid() and bottom_right.isValid():
            self._refresh(
                top_left.row(), bottom_right.row(), top_left.column(), bottom_right.column()
            )

    def _refresh(self, first: int, last: int, lo: int, hi: int, *, fresh: bool = False) -> None:
        # One dataChanged for the block, not one per role per cell: each would make
        # the proxy re-sort and the view re-layout.
        blocked = self.blockSignals(True)
        try:
            self._fill(first, last, lo, hi, fresh=fresh)
        finally:
            self.blockSignals(blocked)
        self.dataChanged.emit(self.index(first, lo), self.index(last, hi))

    def _fill(self, first: int, last: int, lo: int, hi: int, *, fresh: bool) -> None:
        cell = self.source.cell
        for row in range(first, last + 1):
            for col in range(lo, hi + 1):
                if fresh:
                    item = QStandardItem()
                    item.setEditable(False)
                    self.setItem(row, col, item)
                    for role in self._fixed_roles:
                        item.setData(cell(row, col, role), role)
                else:
                    item = self.item(row, col)
                for role in self._roles:
                    item.setData(cell(row, col, role), role)
                if col == 0:
                    for role in self._first_roles:
                        item.setData(cell(row, col, role), role)
