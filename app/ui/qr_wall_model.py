"""`QrWallModel`: the accounts waiting for a scan, in the order they joined the wall.

One row per session: its current QR string and expiry (or, when it links by
phone number, its pairing code and expiry), and a phase the tile shows —
waiting, expired ("refreshing"), linking (scanned), connected (with the phone
and how long it took), which then leaves the wall after `LINGER_S`; or a gate
that needs the operator, which stays until it is dealt with: the passkey
(until the account links in a window) or a block (until dismissed or
restarted), with the operator's message. Fed by the same `EngineHost`
batches as the grid; labels come from the `SessionsModel`, which owns them:
a tile whose account the grid
learns the label of later (a QR that arrived before `add_accounts`
returned) is updated the moment the grid's label cell changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Slot,
)

from app.domain.events import (
    EngineEvent,
    PairingCodeIssued,
    QrIssued,
    SessionError,
    SessionReady,
    SessionStateChanged,
)
from app.domain.models import SessionInfo
from app.domain.states import NO_RETRY_REASONS, SessionState
from app.operator import text as fmt
from app.ui.session_row import Col
from app.ui.sessions_model import SessionsModel

LINGER_S = 5.0
ENTRY_ROLE = Qt.ItemDataRole.UserRole
_Index = QModelIndex | QPersistentModelIndex


class Phase:
    WAITING = "waiting"
    EXPIRED = "expired"
    LINKING = "linking"
    CONNECTED = "connected"
    PASSKEY = "passkey"  # the account must confirm with its passkey (open in a window)
    BLOCKED = "blocked"  # a gate that is never retried: the message says what to do


@dataclass
class WallEntry:
    """One tile's worth of state (mutated only by the model)."""

    session_id: str
    workspace_id: int
    qr: str = ""
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    first_qr_at: datetime | None = None
    phase: str = Phase.WAITING
    connected_at: datetime | None = None
    phone: str = ""
    label: str = ""
    expected_phone: str = ""  # the phone the onboarding row named, shown until linked
    message: str = ""
    code: str = ""  # the pairing code while the account links by phone number
    code_phone: str = ""
    code_issued_at: datetime | None = None
    code_expires_at: datetime | None = None
    gate: str = ""  # what parked it, in the operator's words ("banned", "proxy unreachable")

    @property
    def needs_operator(self) -> bool:
        return self.phase in (Phase.PASSKEY, Phase.BLOCKED)

    def remaining(self, at: datetime | None = None) -> float:
        expires = self.code_expires_at if self.code else self.expires_at
        if expires is None:
            return 0.0
        return (expires - (at or fmt.now())).total_seconds()

    def lifetime(self) -> float:
        issued, expires = (
            (self.code_issued_at, self.code_expires_at)
            if self.code
            else (self.issued_at, self.expires_at)
        )
        if expires is None or issued is None:
            return 60.0
        return max(1.0, (expires - issued).total_seconds())

    def took(self) -> float | None:
        if self.connected_at is None or self.first_qr_at is None:
            return None
        return (self.connected_at - self.first_qr_at).total_seconds()


class QrWallModel(QAbstractListModel):
    """Accounts on the QR wall; `tick()` (4 Hz) flips expired refs and retires connected ones."""

    def __init__(self, sessions: SessionsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self._rows: list[WallEntry] = []
        self._index: dict[str, int] = {}
        sessions.dataChanged.connect(self._on_sessions_data_changed)

    # -------------------------------------------------------------- access

    def entry(self, row: int) -> WallEntry:
        return self._rows[row]

    def entry_for(self, session_id: str) -> WallEntry | None:
        i = self._index.get(session_id)
        return None if i is None else self._rows[i]

    def entries(self) -> list[WallEntry]:
        return list(self._rows)

    def label_of(self, session_id: str) -> str:
        entry = self.entry_for(session_id)
        if entry is not None and entry.label:
            return entry.label
        row = self._sessions.row_for(session_id)
        return row.label if row is not None else ""

    def finished(self, session_id: str) -> bool:
        """Scanned already (linking or connected), per the grid, whether on the wall or not."""
        row = self._sessions.row_for(session_id)
        return row is not None and row.state in (
            SessionState.PAIRING,
            SessionState.PASSKEY_REQUIRED,
            SessionState.CONNECTED,
        )

    def waiting_count(self) -> int:
        return sum(1 for e in self._rows if e.phase in (Phase.WAITING, Phase.EXPIRED))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{entry.label or entry.session_id} · ws {entry.workspace_id}"
        if role == ENTRY_ROLE:
            return entry.session_id
        return None

    # ------------------------------------------------------------- updates

    def load(self, sessions: list[SessionInfo]) -> None:
        # Events can come before the first list (the engine publishes QRs while it
        # starts): an account already on the wall is updated, never added twice.
        for info in sessions:
            if info.session_id in self._index:
                continue  # its events are newer than this list
            if info.state.waiting_for_scan and info.pairing_code:
                entry = self._add(info.session_id, info.workspace_id)
                entry.code, entry.code_phone = info.pairing_code, info.pairing_phone
                entry.code_expires_at = info.pairing_code_expires_at
            elif info.state.waiting_for_scan and info.qr:
                entry = self._add(info.session_id, info.workspace_id)
                entry.qr, entry.issued_at = info.qr, info.qr_issued_at
                entry.expires_at = info.qr_expires_at
                entry.first_qr_at = info.qr_issued_at
            elif info.state is SessionState.PASSKEY_REQUIRED:
                entry = self._add(info.session_id, info.workspace_id)
                entry.phase, entry.message = Phase.PASSKEY, fmt.reason_message(info.reason)

    @Slot(list)
    def apply(self, events: list[EngineEvent]) -> None:
        touched: set[str] = set()
        for ev in events:
            sid = getattr(ev, "session_id", "")
            if isinstance(ev, QrIssued):
                fresh = self.entry_for(sid) or self._add(sid, ev.workspace_id)
                fresh.qr, fresh.issued_at, fresh.expires_at = ev.qr, ev.at, ev.expires_at
                fresh.first_qr_at = fresh.first_qr_at or ev.at
                fresh.phase, fresh.code, fresh.message = Phase.WAITING, "", ""
                touched.add(sid)
            elif isinstance(ev, PairingCodeIssued):
                fresh = self.entry_for(sid) or self._add(sid, ev.workspace_id)
                fresh.code, fresh.code_phone = ev.code, ev.phone
                fresh.code_issued_at, fresh.code_expires_at = ev.at, ev.expires_at
                fresh.first_qr_at = fresh.first_qr_at or ev.at
                fresh.phase, fresh.message = Phase.WAITING, ""
                touched.add(sid)
            elif (entry := self.entry_for(sid)) is None:
                continue
            elif isinstance(ev, SessionReady):
                self._connected(entry, ev.at, ev.phone_number)
                touched.add(sid)
            elif isinstance(ev, SessionStateChanged):
                touched.add(sid)
                if ev.state is SessionState.PAIRING:
                    entry.phase = Phase.LINKING
                elif ev.state is SessionState.PASSKEY_REQUIRED:
                    entry.phase, entry.message = Phase.PASSKEY, fmt.reason_message(ev.reason)
                elif ev.state is SessionState.CONNECTED:
                    self._connected(entry, ev.at, ev.phone_number)
                elif ev.state is SessionState.QR_IDLE:
                    entry.phase = Phase.EXPIRED
                elif ev.state is SessionState.FAILED and ev.reason in NO_RETRY_REASONS:
                    # Stays on the wall with what to do: nothing will retry it by itself.
                    entry.phase, entry.message = Phase.BLOCKED, ev.detail or ev.reason
                    entry.gate = fmt.state_label(ev.state, ev.reason)
                elif ev.state is SessionState.STARTING and entry.needs_operator:
                    entry.phase, entry.message, entry.qr, entry.code = Phase.EXPIRED, "", "", ""
                elif not ev.state.waiting_for_scan and ev.state is not SessionState.STARTING:
                    self._remove(sid)
                    touched.discard(sid)
            elif isinstance(ev, SessionError):
                entry.message = ev.message
                touched.add(sid)
        for sid in touched:
            self._changed(sid)

    def tick(self, at: datetime | None = None) -> None:
        at = at or fmt.now()
        for entry in list(self._rows):
            if not entry.label and (row := self._sessions.row_for(entry.session_id)):
                entry.label = row.label
            if not entry.expected_phone and (row := self._sessions.row_for(entry.session_id)):
                entry.expected_phone = row.phone
            expires = entry.code_expires_at if entry.code else entry.expires_at
            if entry.phase == Phase.WAITING and expires and entry.remaining(at) <= 0:
                entry.phase = Phase.EXPIRED
                self._changed(entry.session_id)
            elif entry.phase == Phase.CONNECTED and entry.connected_at:
                if (at - entry.connected_at).total_seconds() >= LINGER_S:
                    self._remove(entry.session_id)

    def dismiss(self, session_id: str) -> None:
        """Take a tile off the wall (the operator has seen a block's message)."""
        self._remove(session_id)

    def move_to_end(self, session_id: str) -> None:
        """Send an account to the back of the queue (focus mode's skip)."""
        i = self._index.get(session_id)
        last = len(self._rows) - 1
        if i is None or i == last:
            return
        self.beginMoveRows(QModelIndex(), i, i, QModelIndex(), last + 1)
        self._rows.append(self._rows.pop(i))
        self._reindex()
        self.endMoveRows()

    @Slot(QModelIndex, QModelIndex, list)
    def _on_sessions_data_changed(self, top: QModelIndex, bottom: QModelIndex, *_: Any) -> None:
        if not self._rows or not top.column() <= Col.LABEL <= bottom.column():
            return
        for r in range(top.row(), bottom.row() + 1):
            row = self._sessions.row_at(r)
            entry = self.entry_for(row.session_id)
            if entry is not None and row.label and entry.label != row.label:
                entry.label = row.label
                self._changed(row.session_id)

    # ------------------------------------------------------------- private

    def _connected(self, entry: WallEntry, at: datetime, phone: str) -> None:
        if entry.phase != Phase.CONNECTED:
            entry.connected_at = at
        entry.phase = Phase.CONNECTED
        entry.phone = phone or entry.phone

    def _add(self, sid: str, workspace_id: int) -> WallEntry:
        row = self._sessions.row_for(sid)
        entry = WallEntry(
            session_id=sid,
            workspace_id=workspace_id,
            label=row.label if row else "",
            expected_phone=row.phone if row else "",
        )
        n = len(self._rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self._rows.append(entry)
        self._index[sid] = n
        self.endInsertRows()
        return entry

    def _remove(self, sid: str) -> None:
        i = self._index.get(sid)
        if i is None:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        self._reindex()
        self.endRemoveRows()

    def _reindex(self) -> None:
        self._index = {e.session_id: k for k, e in enumerate(self._rows)}

    def _changed(self, sid: str) -> None:
        i = self._index.get(sid)
        if i is None:
            return
        entry = self._rows[i]
        if not entry.label:
            row = self._sessions.row_for(sid)
            entry.label = row.label if row else ""
        idx = self.index(i, 0)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DisplayRole])
