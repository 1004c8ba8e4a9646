"""`OutboxModel`: the sync outbox rows the Diagnostics "Sync" tab shows.

One row per event not yet delivered (pending) or refused for good (dead):
state, event, session, attempts, the central API's HTTP status, when it was
last tried, and the central API's answer. Each refresh is merged into the rows by
event id (removed rows removed, new ones inserted at the top, the rest
updated with `dataChanged`), so a selection survives a refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, Qt

from app.domain.outbox import OutboxItem
from app.operator import text as fmt
from app.ui import theme
from app.ui.table_model import RowTableModel

HEADERS = ("State", "Event", "Session", "Attempts", "HTTP", "Last try", "Central API answer")
ID_ROLE = Qt.ItemDataRole.UserRole


def answer_text(item: OutboxItem) -> str:
    """The central API's answer on one line (or the connection error)."""
    text = " ".join((item.last_error or "").split())
    if not text and item.state == "pending" and not item.attempts:
        return "not sent yet"
    return text


class OutboxModel(RowTableModel[OutboxItem]):
    """Pending and dead outbox rows, newest first."""

    headers = HEADERS
    right_columns = frozenset({3, 4})

    def item(self, row: int) -> OutboxItem:
        return self._rows[row]

    def items(self) -> list[OutboxItem]:
        return list(self._rows)

    def counts(self) -> tuple[int, int]:
        """(pending, dead)."""
        dead = sum(1 for o in self._rows if o.state == "dead")
        return len(self._rows) - dead, dead

    def set_items(self, items: Sequence[OutboxItem]) -> None:
        """Merge a fresh `list_outbox()` result into the rows (no reset)."""
        fresh = {str(o.event_id): o for o in items}
        for i in range(len(self._rows) - 1, -1, -1):
            if str(self._rows[i].event_id) not in fresh:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        known = {str(o.event_id): i for i, o in enumerate(self._rows)}
        for key, i in known.items():
            self._rows[i] = fresh[key]
        if self._rows:
            self._rows_changed(0, len(self._rows) - 1)
        new = [o for key, o in fresh.items() if key not in known]
        if new:
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            self._rows[:0] = new
            self.endInsertRows()

    def role_data(self, row: int, col: int, role: int) -> Any:
        o = self._rows[row]
        if role == ID_ROLE:
            return str(o.event_id)
        if role == Qt.ItemDataRole.ForegroundRole and col == 0:
            return theme.state_color_for_text(str(o.state))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{o.name} for {o.session_id}\nevent id {o.event_id}\n{o.last_error}".strip()
        return None

    def display(self, row: int, col: int) -> str:
        o = self._rows[row]
        if col == 0:
            return str(o.state)
        if col == 1:
            return o.name
        if col == 2:
            return o.session_id
        if col == 3:
            return str(o.attempts)
        if col == 4:
            return str(o.last_status) if o.last_status else ""
        if col == 5:
            at = o.last_attempt_at
            return f"{fmt.duration(fmt.age_seconds(at))} ago" if at else ""
        return answer_text(o)
