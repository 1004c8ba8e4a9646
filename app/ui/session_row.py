"""One health-grid row (`Row`), its columns (`Col`) and the item roles the grid uses.

`Row` is the grid's row cache (Anki's pattern): static display strings are
formatted once per change and kept, so painting 3,000 rows never re-formats
them; ages are computed when painted, from the stored timestamps.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.operator import text as fmt

SORT_ROLE = Qt.ItemDataRole.UserRole
STATE_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex


class Col(IntEnum):
    STATE = 0
    WORKSPACE = 1
    LABEL = 2
    PHONE = 3
    PROXY = 4
    INSTANCE = 5
    CONNECTED_FOR = 6
    HEARTBEAT = 7
    QR_AGE = 8
    RESTARTS = 9
    MEMORY = 10
    REASON = 11  # shown right after State (moved there by the grid's header)
    SESSION = 12  # hidden by default; the header's menu shows it


HEADERS = (
    "State",
    "Workspace",
    "Label",
    "Phone",
    "Proxy",  # the account's own proxy, never with its password
    "Instance",
    "Connected for",
    "Last heartbeat",
    "QR age",
    "Restarts",
    "JS heap",  # the page's JavaScript heap, from the heartbeat (process memory is per instance)
    "Reason / last error",
    "Session id",
)
AGE_COLS = (Col.CONNECTED_FOR, Col.HEARTBEAT, Col.QR_AGE)
RIGHT_COLS = {Col.WORKSPACE, Col.CONNECTED_FOR, Col.HEARTBEAT, Col.QR_AGE, Col.RESTARTS, Col.MEMORY}


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
        "proxy",
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
        self.proxy = info.proxy
        self.cache: dict[int, str] = {}

    def text(self, col: int) -> str:
        cached = self.cache.get(col)
        if cached is None:
            cached = self.cache[col] = self._format(col)
        return cached

    def _format(self, col: int) -> str:
        if col == Col.STATE:
            return fmt.state_label(self.state, self.reason)
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
        if col == Col.PROXY:
            return self.proxy
        if col == Col.REASON:
            return self.why()
        if col == Col.SESSION:
            return self.session_id
        return ""

    def why(self) -> str:
        """Why the session is where it is: the reason code and the last error, in one line."""
        parts = [str(self.reason) if self.reason else "", self.last_error]
        return " — ".join(" ".join(p.split()) for p in parts if p)

    def age(self, col: int, at: datetime | None = None) -> float | None:
        return fmt.age_seconds(self.since(col), at)

    def since(self, col: int) -> datetime | None:
        """When an age column's clock started (None: the cell is empty)."""
        if col == Col.CONNECTED_FOR:
            return self.connected_at if self.state is SessionState.CONNECTED else None
        if col == Col.HEARTBEAT:
            return self.heartbeat_at
        return self.qr_issued_at if self.state.waiting_for_scan else None
