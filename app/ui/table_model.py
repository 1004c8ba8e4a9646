"""`RowTableModel`: the part every flat table model of the console repeats.

A subclass owns a list of rows (`self._rows`) and names its columns in
`headers`; the base answers `rowCount`, `columnCount` and the horizontal
header, looks the row up for `data`, and hands the cell to the subclass:
`display(row, col)` for the text, `role_data(row, col, role)` for any other
role. How rows are replaced (a reset, or a merge with `dataChanged`) stays
with each subclass, since that is where the models differ.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex
T = TypeVar("T")

_V = Qt.AlignmentFlag.AlignVCenter
ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | _V)
ALIGN_LEFT = int(Qt.AlignmentFlag.AlignLeft | _V)


class RowTableModel(QAbstractTableModel, Generic[T]):
    """A flat table over `self._rows`, one item of type `T` per row.

    Class attributes:
        headers: the column titles, which also fix the column count.
        right_columns: columns aligned right; None (the default) leaves the
            alignment role unanswered, so the view's default applies.
    """

    headers: ClassVar[tuple[str, ...]] = ()
    right_columns: ClassVar[frozenset[int] | None] = None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = []

    def display(self, row: int, col: int) -> Any:
        """The text of one cell (`DisplayRole`)."""
        raise NotImplementedError

    def role_data(self, row: int, col: int, role: int) -> Any:
        """Any other role of one cell; None when the model does not answer it."""
        return None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section] if 0 <= section < len(self.headers) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and self.right_columns is not None:
            return ALIGN_RIGHT if col in self.right_columns else ALIGN_LEFT
        return self.role_data(row, col, role)

    def _rows_changed(self, first: int, last: int) -> None:
        """Every column of rows `first`..`last` changed."""
        self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.headers) - 1))
