"""`InstancesModel`: one row per instance plus ten minutes of CPU/memory samples.

Fed by `InstanceLoad` batches; each instance's history is a bounded deque of
(time, cpu %, memory bytes) the cards draw as sparklines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt

from app.domain.events import InstanceLoad
from app.domain.models import InstanceInfo
from app.operator import text as fmt
from app.ui.table_model import RowTableModel

HISTORY = timedelta(minutes=10)
HEADERS = ("Instance", "Alive", "CPU", "Memory", "Sessions", "Capacity", "Restarts", "Uptime")
ID_ROLE = Qt.ItemDataRole.UserRole


class InstancesModel(RowTableModel[InstanceInfo]):
    """Instances and their recent load."""

    headers = HEADERS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._index: dict[str, int] = {}
        self.history: dict[str, deque[tuple[datetime, float, int]]] = {}
        # When each instance was first seen down (console's clock): "down since".
        self.down_since: dict[str, datetime] = {}

    def _track(self, info: InstanceInfo, at: datetime | None = None) -> None:
        if info.alive:
            self.down_since.pop(info.instance_id, None)
        elif info.started_at is not None or info.last_error:
            self.down_since.setdefault(info.instance_id, at or fmt.now())

    def any_down(self) -> bool:
        return any(not r.alive for r in self._rows)

    def any_leases(self) -> bool:
        """Fleet members are shown: their lease health comes only with the list."""
        return any(r.lease_health for r in self._rows)

    def rows(self) -> tuple[InstanceInfo, ...]:
        return tuple(self._rows)

    def info(self, row: int) -> InstanceInfo:
        return self._rows[row]

    def info_for(self, instance_id: str) -> InstanceInfo | None:
        i = self._index.get(instance_id)
        return None if i is None else self._rows[i]

    def total_load(self) -> tuple[float, int]:
        """(sum of CPU %, sum of memory bytes) over live instances."""
        live = [r for r in self._rows if r.alive]
        return sum(r.cpu_percent for r in live), sum(r.memory_bytes for r in live)

    def display(self, row: int, col: int) -> str:
        r = self._rows[row]
        return (
            r.instance_id,
            "yes" if r.alive else "no",
            f"{r.cpu_percent:.0f}%",
            fmt.size(r.memory_bytes),
            f"{r.sessions_connected} / {r.sessions_total}",
            str(r.capacity),
            str(r.restarts),
            fmt.duration(fmt.age_seconds(r.started_at)),
        )[col]

    def role_data(self, row: int, col: int, role: int) -> Any:
        return self._rows[row].instance_id if role == ID_ROLE else None

    def load(self, instances: Sequence[InstanceInfo]) -> None:
        """First load (the only reset), or add instances not seen yet."""
        if not self._rows:
            self.beginResetModel()
            self._rows = list(instances)
            self._index = {r.instance_id: i for i, r in enumerate(self._rows)}
            self.endResetModel()
            for info in self._rows:
                self._track(info)
            return
        for info in instances:
            if info.instance_id in self._index:
                self._set(self._index[info.instance_id], info)
            else:
                self._append(info)

    def apply(self, loads: Sequence[InstanceLoad]) -> None:
        changed: set[int] = set()
        for ev in loads:
            i = self._index.get(ev.instance_id)
            if i is None:
                self._append(InstanceInfo(instance_id=ev.instance_id, index=len(self._rows) + 1))
                i = self._index[ev.instance_id]
            old = self._rows[i]
            self._rows[i] = replace(
                old,
                url=ev.url or old.url,
                pid=ev.pid or old.pid,
                alive=ev.alive,
                cpu_percent=ev.cpu_percent,
                memory_bytes=ev.memory_bytes,
                sessions_total=ev.sessions_total,
                sessions_connected=ev.sessions_connected,
                capacity=ev.capacity or old.capacity,
                restarts=ev.restarts,
                started_at=old.started_at or ev.at,
            )
            self._track(self._rows[i], ev.at)
            line = self.history.setdefault(ev.instance_id, deque())
            line.append((ev.at, ev.cpu_percent, ev.memory_bytes))
            while line and line[0][0] < ev.at - HISTORY:
                line.popleft()
            changed.add(i)
        for i in sorted(changed):
            self._rows_changed(i, i)

    def _set(self, i: int, info: InstanceInfo) -> None:
        old = self._rows[i]
        # A fresh list_instances() answer keeps the samples' history and first start.
        self._rows[i] = replace(info, started_at=info.started_at or old.started_at)
        self._track(self._rows[i])
        self._rows_changed(i, i)

    def _append(self, info: InstanceInfo) -> None:
        n = len(self._rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self._rows.append(info)
        self._index[info.instance_id] = n
        self.endInsertRows()
        self._track(info)
