"""The health grid's data: `SessionsModel` owns one row per session, keyed by id.

Rows (`app.ui.session_row.Row`) are mutable records fed by `EngineHost`
batches; the model emits `dataChanged` on exactly the rows and columns a
batch touched (merged into contiguous runs), inserts new sessions in one
block, and never resets except for the first load.

Ages (connected for, last heartbeat, QR age) are computed when a cell is
painted, so the once-a-second `tick()` does not touch the rows at all: it
only tells the views to repaint the age cells they show (`sig_ages_due`).
A `dataChanged` over every row would make the sort/filter proxy walk all of
them, and at 3,000 rows that is the stall the grid must not have.

A row first seen in an event (the engine published it before `add_accounts`
returned, or the console started mid-way) has no label yet: the model
reports it with `sig_unknown_sessions`, and the window fetches the engine's
`list_sessions()` and hands it to `upsert`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal

from app.domain.events import (
    EngineEvent,
    QrIssued,
    SessionError,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
)
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.operator import text as fmt
from app.ui.session_row import (
    AGE_COLS,
    HEADERS,
    ID_ROLE,
    RIGHT_COLS,
    SORT_ROLE,
    STATE_ROLE,
    Col,
    Index,
    Row,
)
from app.ui.sessions_proxy import SessionsProxy
from app.ui.table_model import ALIGN_LEFT, ALIGN_RIGHT, RowTableModel

__all__ = ["ID_ROLE", "SORT_ROLE", "STATE_ROLE", "Col", "Row", "SessionsModel", "SessionsProxy"]

TIMELINE_LENGTH = 50
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_SORT, _STATE, _ID = int(SORT_ROLE), int(STATE_ROLE), int(ID_ROLE)
# The delegate asks for about ten roles per cell and paint; answer the unused ones at once.
_ROLES = frozenset({_DISPLAY, _ALIGN, _TOOLTIP, _SORT, _STATE, _ID})
_NO_AGE = float("-inf")
_CHANGED_ROLES = [Qt.ItemDataRole.DisplayRole, SORT_ROLE, STATE_ROLE, Qt.ItemDataRole.ToolTipRole]


class SessionsModel(RowTableModel[Row]):
    """All sessions, one row each.

    Signals:
        sig_counts_changed(dict): {SessionState: count} after a batch changed any state.
        sig_ages_due(): a second has passed; views repaint the age cells they show.
        sig_unknown_sessions(list): session ids first seen in events (no label yet).
    """

    sig_counts_changed = Signal(dict)
    sig_ages_due = Signal()
    sig_unknown_sessions = Signal(list)
    headers = HEADERS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
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
        return {state: n for state, n in self._counts.items() if n}

    # ------------------------------------------------------------- Qt model

    # Not the base's display/role_data: the unused roles are turned away before any lookup.
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        role = int(role)
        if role not in _ROLES or not index.isValid():
            return None
        return self.cell(index.row(), index.column(), role)

    def cell(self, row_number: int, col: int, role: int) -> Any:
        """`data()` of a cell by row and column, with no model index to build (`CellCache`)."""
        if role not in _ROLES:
            return None
        row = self._rows[row_number]
        if role == _DISPLAY:
            if col in AGE_COLS:
                return fmt.duration(row.age(col))
            return row.text(col)
        if role == _SORT:
            return self._sort_key(row, col)
        if role == _STATE:
            return row.state.value
        if role == _ID:
            return row.session_id
        if role == _ALIGN:
            return ALIGN_RIGHT if col in RIGHT_COLS else ALIGN_LEFT
        if col == Col.STATE:
            why = f" ({row.reason})" if row.reason else ""
            advice = fmt.reason_message(row.reason)
            lines = [f"{row.text(Col.STATE)}{why}", advice, row.last_error]
            return "\n".join(line for line in lines if line)
        return row.session_id

    def _sort_key(self, row: Row, col: int) -> Any:
        if col == Col.STATE:
            return fmt.STATE_SORT.get(row.state, 99)
        if col == Col.WORKSPACE:
            return row.workspace_id
        if col in AGE_COLS:
            # The start of the clock, not the age: the same order (youngest first,
            # empty cells before all), and a key that stays right as time passes.
            since = row.since(col)
            return _NO_AGE if since is None else -since.timestamp()
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
        """Add sessions the engine just created (e.g. `add_accounts`), fill in known ones.

        The engine's label and proxy win (it owns them); the phone and instance
        fill gaps only, since events may already have brought newer values.
        """
        infos = list(infos)
        self._insert([Row(i) for i in infos if i.session_id not in self._index])
        changed: dict[int, tuple[int, int]] = {}
        for info in infos:
            i = self._index[info.session_id]
            row = self._rows[i]
            fresh = (
                (info.label or row.label),
                (row.phone or info.phone_number),
                (row.instance or info.instance_id),
                info.proxy,
            )
            if fresh != (row.label, row.phone, row.instance, row.proxy):
                row.label, row.phone, row.instance, row.proxy = fresh
                row.cache.clear()
                changed[i] = (Col.LABEL, Col.INSTANCE)
        self._emit_changed(changed)
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
        counts = self._counts
        counts_changed = False
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
            if row.state is not before:
                counts[before] = counts.get(before, 0) - 1
                counts[row.state] = counts.get(row.state, 0) + 1
                counts_changed = True
        self._emit_changed(changed)
        if fresh:
            self._recount()
            self.sig_unknown_sessions.emit(list(fresh))
        elif counts_changed:
            self.sig_counts_changed.emit({s: n for s, n in counts.items() if n})

    def tick(self) -> None:
        """A second passed: views repaint the age cells they show (no row is touched)."""
        if self._rows:
            self.sig_ages_due.emit()

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
            if ev.state is SessionState.CONNECTED:
                row.last_error = ""  # linked again: an old error would only mislead
            cols += [Col.STATE, Col.CONNECTED_FOR, Col.QR_AGE, Col.REASON]
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
            cols += [Col.STATE, Col.REASON]
        for col in cols:
            row.cache.pop(col, None)
        return cols

    def _note(self, sid: str, at: datetime, what: str, reason: str, detail: str) -> None:
        line = self.timelines.get(sid)
        if line is None:
            line = self.timelines[sid] = deque(maxlen=TIMELINE_LENGTH)
        line.append((at, what, str(reason), detail))

    def _emit_changed(self, changed: dict[int, tuple[int, int]]) -> None:
        run_start = run_end = -1
        lo = hi = 0
        for i in sorted(changed):
            c_lo, c_hi = changed[i]
            if i == run_end + 1 and run_start >= 0:
                run_end, lo, hi = i, min(lo, c_lo), max(hi, c_hi)
                continue
            if run_start >= 0:
                self._changed_run(run_start, run_end, lo, hi)
            run_start = run_end = i
            lo, hi = c_lo, c_hi
        if run_start >= 0:
            self._changed_run(run_start, run_end, lo, hi)

    def _changed_run(self, first: int, last: int, lo: int, hi: int) -> None:
        self.dataChanged.emit(self.index(first, lo), self.index(last, hi), _CHANGED_ROLES)

    def _recount(self) -> None:
        counts: dict[SessionState, int] = {}
        for row in self._rows:
            counts[row.state] = counts.get(row.state, 0) + 1
        if counts != {s: n for s, n in self._counts.items() if n}:
            self._counts = counts
            self.sig_counts_changed.emit(dict(counts))
        else:
            self._counts = counts
