"""Instances: the shard worker processes as last registered and reported.

The supervisor (or a standalone `pairdesk instance`) registers an instance
with `upsert_instance` when its process starts, reports load samples with
`record_instance_load`, and marks a clean exit with `mark_instance_stopped`.
"Alive" is derived when reading: a fresh heartbeat and no recorded stop, so a
killed process shows as down without anyone having to write that down.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.events import InstanceLoad
from app.domain.models import InstanceInfo
from app.store.errors import InstanceNotFound
from app.store.models import Account, Instance

__all__ = [
    "DEFAULT_STALE_AFTER",
    "find_instance",
    "get_instance",
    "list_instances",
    "mark_instance_stopped",
    "record_instance_load",
    "remove_instance",
    "upsert_instance",
]

DEFAULT_STALE_AFTER = 15.0  # seconds without a heartbeat before an instance counts as down
RESTART_HISTORY = 50


def _to_info(row: Instance, now: datetime | None, stale_after: float) -> InstanceInfo:
    alive = (
        now is not None
        and row.stopped_at is None
        and row.heartbeat_at is not None
        and now - row.heartbeat_at <= timedelta(seconds=stale_after)
    )
    return InstanceInfo(
        instance_id=row.id,
        index=row.index,
        url=row.url,
        pid=row.pid,
        alive=alive,
        started_at=row.started_at,
        restarts=row.restarts,
        capacity=row.capacity,
        sessions_total=row.sessions_total,
        sessions_connected=row.sessions_connected,
        cpu_percent=row.cpu_percent,
        memory_bytes=row.memory_bytes,
        restart_history=tuple(datetime.fromisoformat(t) for t in row.restart_history or ()),
    )


def upsert_instance(
    session: Session,
    *,
    instance_id: str,
    index: int,
    url: str,
    pid: int,
    started_at: datetime,
    capacity: int = 0,
    restarted: bool = False,
) -> InstanceInfo:
    """Register an instance process that just started (insert or refresh its row).

    `restarted` (the supervisor brought it back after a crash) adds one to the
    restart counter and to the restart history. The start counts as the first
    heartbeat. An index held by another instance id raises `ValueError`.
    """
    clash = session.scalar(
        select(Instance.id).where(Instance.index == index, Instance.id != instance_id)
    )
    if clash is not None:
        raise ValueError(
            f"instance index {index} is already registered as {clash!r}; "
            "remove that instance first or use another index"
        )
    row = session.get(Instance, instance_id)
    if row is None:
        row = Instance(id=instance_id, restarts=0, restart_history=[])
        session.add(row)
    row.index = index
    row.url = url
    row.pid = pid
    row.capacity = capacity
    row.started_at = started_at
    row.stopped_at = None
    row.heartbeat_at = started_at
    row.cpu_percent = 0.0
    row.memory_bytes = 0
    row.sessions_total = 0
    row.sessions_connected = 0
    if restarted:
        row.restarts = (row.restarts or 0) + 1
        history = [*(row.restart_history or []), started_at.isoformat()]
        row.restart_history = history[-RESTART_HISTORY:]
    session.flush()
    return _to_info(row, started_at, DEFAULT_STALE_AFTER)


def record_instance_load(session: Session, load: InstanceLoad) -> None:
    """Store one load sample (doubles as the instance's heartbeat at `load.at`)."""
    values: dict[str, object] = {
        "heartbeat_at": load.at,
        "cpu_percent": load.cpu_percent,
        "memory_bytes": load.memory_bytes,
        "sessions_total": load.sessions_total,
        "sessions_connected": load.sessions_connected,
    }
    if load.capacity:
        values["capacity"] = load.capacity
    if load.pid:
        values["pid"] = load.pid
    if load.url:
        values["url"] = load.url
    result = session.execute(
        update(Instance)
        .where(Instance.id == load.instance_id)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    if not getattr(result, "rowcount", 0):
        raise InstanceNotFound(load.instance_id)


def mark_instance_stopped(session: Session, instance_id: str, *, at: datetime) -> None:
    """A clean shutdown: the instance is down on purpose (its assignments stay)."""
    row = session.get(Instance, instance_id)
    if row is None:
        raise InstanceNotFound(instance_id)
    row.stopped_at = at
    session.flush()


def find_instance(
    session: Session,
    instance_id: str,
    *,
    now: datetime | None = None,
    stale_after: float = DEFAULT_STALE_AFTER,
) -> InstanceInfo | None:
    """The instance, or None; `alive` is computed against `now` (False without it)."""
    row = session.get(Instance, instance_id)
    return None if row is None else _to_info(row, now, stale_after)


def get_instance(
    session: Session,
    instance_id: str,
    *,
    now: datetime | None = None,
    stale_after: float = DEFAULT_STALE_AFTER,
) -> InstanceInfo:
    """The instance, or `InstanceNotFound`."""
    info = find_instance(session, instance_id, now=now, stale_after=stale_after)
    if info is None:
        raise InstanceNotFound(instance_id)
    return info


def list_instances(
    session: Session, *, now: datetime | None = None, stale_after: float = DEFAULT_STALE_AFTER
) -> list[InstanceInfo]:
    """Every registered instance by index; `alive` is computed against `now`."""
    rows = session.scalars(select(Instance).order_by(Instance.index))
    return [_to_info(row, now, stale_after) for row in rows]


def remove_instance(session: Session, instance_id: str) -> int:
    """Forget an instance; its accounts become unassigned. Returns how many were."""
    result = session.execute(
        update(Account)
        .where(Account.instance_id == instance_id)
        .values(instance_id=None)
        .execution_options(synchronize_session="fetch")
    )
    row = session.get(Instance, instance_id)
    if row is not None:
        session.delete(row)
        session.flush()
    return int(getattr(result, "rowcount", 0))
