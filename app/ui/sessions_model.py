"""The health grid's data: `SessionsModel` owns one row per session, keyed by id.

Rows are mutable records fed by `EngineHost` batches; the model emits
`dataChanged` on exactly the rows and columns a batch touched (merged into
contiguous runs), inserts new sessions in one block, and never resets except
for the first load. Static display strings are cached per row (Anki's row
cache) so painting 3,000 rows never re-formats them; ages are computed at
paint time and refreshed by `tick()` once a second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from app.domain.events import (
    EngineEvent,
    QrIssued,
    SessionError,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
)
from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.ui import fmt

SORT_ROLE = Qt.ItemDataRole.UserRole
STATE_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
_Index = QModelIndex | QPersistentModelIndex


class Col(IntEnum):
    STATE = 0
    WORKSPACE = 1
    LABEL = 2
    PHONE = 3
    INSTANCE = 4
    CONNECTED_FOR = 5
    HEARTBEAT = 6
    QR_AGE = 7
    RESTARTS = 8
    MEMORY = 9


HEADERS = (
    "State",
    "Workspace",
    "Label",
    "Phone",
    "Instance",
    "Connected for",
    "Last heartbeat",
    "QR age",
    "Restarts",
    "Memory",
)
_AGE_COLS = (Col.CONNECTED_FOR, Col.HEARTBEAT, Col.QR_AGE)
_RIGHT = {Col.WORKSPACE, Col.CONNECTED_FOR, Col.HEARTBEAT, Col.QR_AGE, Col.RESTARTS, Col.MEMORY}
TIMELINE_LENGTH = 50


class Row:
    """One session as the grid shows it; mutated only by `SessionsModel`."""

    __slots__ = (
        "session_id",
        "workspace_id",
        "label",
        "state",
        "reason",
        "phone",
        "instance",
        "connected_at",
        "heartbeat_at",
        "qr_issued_at",
        "restarts",
        "memory",
        "last_error",
        "cache",
    )

    def __init__(self, info: SessionInfo) -> None:
        self.session_id = info.session_id
        self.workspace_id = info.workspace_id
        self.label = info.label
        self.state = info.state
        self.reason: Reason | str | None = info.reason
        self.phone = info.phone_number
        self.instance = info.instance_id
        self.connected_at = info.connected_at
        self.heartbeat_at = info.last_heartbeat_at
        self.qr_issued_at = info.qr_issued_at
        self.restarts = info.restarts
        self.memory = info.memory_bytes
        self.last_error = ""
        self.cache: dict[int, str] = {}

    def text(self, col: int) -> str:
        cached = self.cache.get(col)
        if cached is None:
            cached = self.cache[col] = self._format(col)
        return cached

    def _format(self, col: int) -> str:
        if col == Col.STATE:
            return fmt.STATE_LABELS.get(self.state, str(self.state))
        if col == Col.WORKSPACE:
            return str(self.workspace_id)
        if col == Col.LABEL:
            return self.label
        if col == Col.PHONE:
            return fmt.phone(self.phone)
        if col == Col.INSTANCE:
            return self.instance
        if col == Col.RESTARTS:
            return str(self.restarts) if self.restarts else ""
        if col == Col.MEMORY:
            return fmt.size(self.memory)
        return ""

    def age(self, col: int, at: datetime | None = None) -> float | None:
        if col == Col.CONNECTED_FOR:
            if self.state is not SessionState.CONNECTED:
                return None
            return fmt.age_seconds(self.connected_at, at)
        if col == Col.HEARTBEAT:
            return fmt.age_seconds(self.heartbeat_at, at)
        if self.state.waiting_for_scan:
            return fmt.age_seconds(self.qr_issued_at, at)
        return None


class SessionsModel(QAbstractTableModel):
    """All sessions, one row each.

    Signals:
        sig_counts_changed(dict): {SessionState: count} after a batch changed any state.
    """

    sig_counts_changed = Signal(dict)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._counts: dict[SessionState, int] = {}
        self.timelines: dict[str, deque[tuple[datetime, str, str, str]]] = {}

    # ---------------------------------------------------------------- access

    def row_at(self, row: int) -> Row:
        return self._rows[row]

    def row_for(self, session_id: str) -> Row | None:
        i = self._index.get(session_id)
        return None if i is None else self._rows[i]

    def row_of(self, session_id: str) -> int:
        return self._index.get(session_id, -1)

    def counts(self) -> dict[SessionState, int]:
        return dict(self._counts)

    # ------------------------------------------------------------- Qt model

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col in _AGE_COLS:
                return fmt.duration(row.age(col))
            return row.text(col)
        if role == SORT_ROLE:
            return self._sort_key(row, col)
        if role == STATE_ROLE:
            return row.state.value
        if role == ID_ROLE:
            return row.session_id
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = (
                Qt.AlignmentFlag.AlignRight if col in _RIGHT else Qt.AlignmentFlag.AlignLeft
            )
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == Col.STATE:
                why = f" ({row.reason})" if row.reason else ""
                return f"{row.text(Col.STATE)}{why}\n{row.last_error}".strip()
            return row.session_id
        return None

    def _sort_key(self, row: Row, col: int) -> Any:
        if col == Col.STATE:
            return fmt.STATE_SORT.get(row.state, 99)
        if col == Col.WORKSPACE:
            return row.workspace_id
        if col in _AGE_COLS:
            age = row.age(col)
            return -1.0 if age is None else age
        if col == Col.RESTARTS:
            return row.restarts
        if col == Col.MEMORY:
            return row.memory
        return row.text(col).casefold()

    # -------------------------------------------------------------- updates

    def load(self, sessions: Sequence[SessionInfo]) -> None:
        """First load: the only reset this model ever does."""
        self.beginResetModel()
        self._rows = [Row(info) for info in sessions]
        self._index = {r.session_id: i for i, r in enumerate(self._rows)}
        self.endResetModel()
        self._recount()

    def upsert(self, infos: Iterable[SessionInfo]) -> None:
        """Add sessions the engine just created (e.g. `add_accounts`), update known ones."""
        infos = list(infos)
        self._insert([Row(i) for i in infos if i.session_id not in self._index])
        for info in infos:
            i = self._index[info.session_id]
            row = self._rows[i]
            if (info.label and not row.label) or (info.phone_number and not row.phone):
                row.label = row.label or info.label
                row.phone = row.phone or info.phone_number
                row.cache.clear()
                self._emit_changed({i: (Col.LABEL, Col.PHONE)})
        self._recount()

    def apply(self, events: Sequence[EngineEvent]) -> None:
        """Apply a batch of engine events: one insert block, then merged dataChanged runs."""
        fresh: dict[str, Row] = {}
        for ev in events:
            sid = getattr(ev, "session_id", None)
            ws = getattr(ev, "workspace_id", None)
            if sid and ws is not None and sid not in self._index and sid not in fresh:
                fresh[sid] = Row(SessionInfo(session_id=sid, workspace_id=ws))
        self._insert(list(fresh.values()))
        changed: dict[int, tuple[int, int]] = {}
        state_changed = bool(fresh)
        for ev in events:
            i = self._index.get(getattr(ev, "session_id", ""), -1)
            if i < 0:
                continue
            row = self._rows[i]
            before = row.state
            cols = self._apply_one(row, ev)
            if cols:
                lo, hi = changed.get(i, (cols[0], cols[0]))
                changed[i] = (min(lo, *cols), max(hi, *cols))
            state_changed |= row.state is not before
        self._emit_changed(changed)
        if state_changed:
            self._recount()

    def tick(self) -> None:
        """Refresh the age columns (once a second)."""
        if self._rows:
            self.dataChanged.emit(
                self.index(0, Col.CONNECTED_FOR),
                self.index(len(self._rows) - 1, Col.QR_AGE),
                [Qt.ItemDataRole.DisplayRole, SORT_ROLE],
            )

    def _insert(self, rows: list[Row]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for offset, row in enumerate(rows):
            self._rows.append(row)
            self._index[row.session_id] = first + offset
        self.endInsertRows()

    def _apply_one(self, row: Row, ev: EngineEvent) -> list[int]:
        if isinstance(ev, SessionHeartbeat):
            row.heartbeat_at = ev.at
            if ev.memory_bytes and ev.memory_bytes != row.memory:
                row.memory = ev.memory_bytes
                row.cache.pop(Col.MEMORY, None)
                return [Col.HEARTBEAT, Col.MEMORY]
            return [Col.HEARTBEAT]
        cols: list[int] = []
        if isinstance(ev, SessionStateChanged):
            self._note(row.session_id, ev.at, ev.state.value, ev.reason or "", ev.detail)
            if ev.state is SessionState.STARTING and row.state is SessionState.DISCONNECTED:
                row.restarts += 1
                cols.append(Col.RESTARTS)
            if ev.state is SessionState.CONNECTED and row.state is not SessionState.CONNECTED:
                row.connected_at = ev.at
            row.state, row.reason = ev.state, ev.reason
            cols += [Col.STATE, Col.CONNECTED_FOR, Col.QR_AGE]
            if ev.phone_number:
                row.phone = ev.phone_number
                cols.append(Col.PHONE)
            if ev.instance_id:
                row.instance = ev.instance_id
                cols.append(Col.INSTANCE)
        elif isinstance(ev, QrIssued):
            row.qr_issued_at = ev.at
            if not row.state.waiting_for_scan:
                row.state = SessionState.QR
                cols.append(Col.STATE)
            cols.append(Col.QR_AGE)
        elif isinstance(ev, SessionReady):
            self._note(row.session_id, ev.at, "ready", "", "restored" if ev.restored else "")
            if row.state is not SessionState.CONNECTED:
                row.connected_at = ev.at
            row.state, row.phone = SessionState.CONNECTED, ev.phone_number or row.phone
            cols += [Col.STATE, Col.PHONE, Col.CONNECTED_FOR, Col.QR_AGE]
        elif isinstance(ev, SessionError):
            row.last_error = ev.message
            self._note(row.session_id, ev.at, "error", ev.error, ev.message)
            cols.append(Col.STATE)
        for col in cols:
            row.cache.pop(col, None)
        return cols

    def _note(self, sid: str, at: datetime, what: str, reason: str, detail: str) -> None:
        line = self.timelines.get(sid)
        if line is None:
            line = self.timelines[sid] = deque(maxlen=TIMELINE_LENGTH)
        line.append((at, what, str(reason), detail))

    def _emit_changed(self, changed: dict[int, tuple[int, int]]) -> None:
        roles = [Qt.ItemDataRole.DisplayRole, SORT_ROLE, STATE_ROLE, Qt.ItemDataRole.ToolTipRole]
        run_start = run_end = -1
        lo = hi = 0
        for i in sorted(changed):
            c_lo, c_hi = changed[i]
            if i == run_end + 1 and run_start >= 0:
                run_end, lo, hi = i, min(lo, c_lo), max(hi, c_hi)
                continue
            if run_start >= 0:
                self.dataChanged.emit(self.index(run_start, lo), self.index(run_end, hi), roles)
            run_start = run_end = i
            lo, hi = c_lo, c_hi
        if run_start >= 0:
            self.dataChanged.emit(self.index(run_start, lo), self.index(run_end, hi), roles)

    def _recount(self) -> None:
        counts: dict[SessionState, int] = {}
        for row in self._rows:
            counts[row.state] = counts.get(row.state, 0) + 1
        if counts != self._counts:
            self._counts = counts
            self.sig_counts_changed.emit(dict(counts))


class SessionsProxy(QSortFilterProxyModel):
    """Filters by state group and free text; sorts by `SORT_ROLE`.

    `dynamicSortFilter` stays on: the source only reports the columns that
    really changed, so a heartbeat re-sorts only when sorting by heartbeat.
    """

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

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        model = self.sourceModel()
        if not isinstance(model, SessionsModel):
            return True
        row = model.row_at(source_row)
        if self._states is not None and row.state not in self._states:
            return False
        if not self._text:
            return True
        hay = f"{row.label} {row.phone} {row.workspace_id} {row.session_id} {row.instance}"
        return self._text in hay.casefold()
