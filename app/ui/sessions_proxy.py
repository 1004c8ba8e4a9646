"""`SessionsProxy`: the health grid's filter (state group, free text) and sort order.

`dynamicSortFilter` stays on: the source reports only the cells that really
changed, so a heartbeat re-sorts only when sorting by heartbeat, and a state
change moves just that row. Age columns sort by when their clock started,
a key that does not move as the seconds pass, so no timer re-sorts them.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSortFilterProxyModel

from app.domain.states import SessionState
from app.ui.session_row import SORT_ROLE, Index


class SessionsProxy(QSortFilterProxyModel):
    """Filters by state group and free text; sorts by `SORT_ROLE`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._states: frozenset[SessionState] | None = None
        self._text = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_states(self, states: frozenset[SessionState] | None) -> None:
        self.beginFilterChange()
        self._states = states
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        row_at = getattr(model, "row_at", None)
        if row_at is None:
            return True
        row = row_at(source_row)
        if self._states is not None and row.state not in self._states:
            return False
        if not self._text:
            return True
        hay = f"{row.label} {row.phone} {row.workspace_id} {row.session_id} {row.instance}"
        return self._text in hay.casefold()
