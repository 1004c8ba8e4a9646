"""The webhook outbox (docs/SYNC.md): durable, ordered per session.

The engine enqueues an event in the same transaction as the state change it
reports (`accounts.record_transition(..., outbox=[...])` or `enqueue`); the
deliverer asks `next_due` for work and reports each attempt with `mark_sent`,
`mark_retry` or `mark_dead`. Rules kept here, in one place:

- per session, only the oldest pending row is ever due, so events reach the
  central API in the order they happened and sessions never block each other;
- a pending `qr_code_generated` row is `superseded` as soon as anything newer
  is enqueued for its session (a newer QR or a state event): a stale QR is
  never delivered late;
- nothing else is dropped: `dead` rows (refused with a 4xx) stay until the
  operator retries them with `retry_dead`, which re-queues a dead row only
  while nothing later of its session was sent or is pending; otherwise the
  old event would land after newer ones and regress the platform, so it is
  marked `superseded` with the reason in `last_error`.

Rows are addressed by `event_id` (the `X-Event-Id` header). Every function
takes the caller's `Session` and never commits.

`enqueue` also notes, on the session, each row that is its session's oldest
pending row (nothing older of the session waits): once that transaction has
committed, `take_enqueued_heads` hands them to the caller, who may give them
to the deliverer at once instead of letting it read them back (docs/SYNC.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from app.domain.outbox import SUPERSEDABLE_EVENTS, DeliveryMetrics, OutboxItem, OutboxState
from app.store.models import OutboxRow

__all__ = [
    "enqueue",
    "get",
    "take_enqueued_heads",
    "list_dead",
    "list_items",
    "mark_dead",
    "mark_retry",
    "mark_sent",
    "metrics",
    "next_due",
    "next_wakeup",
    "purge_delivered",
    "retry_dead",
]

MAX_ERROR_LENGTH = 2000
MAX_BODY_START = 500
_SUPERSEDABLE = sorted(SUPERSEDABLE_EVENTS)
_PENDING = OutboxState.PENDING.value
OVERTAKEN = (
    "not retried: a newer event for this session was already delivered (or is queued), "
    "so sending this older one now would put the platform's account state back"
)
STALE_QR = "not retried: a newer event for this session replaced this QR code (or pairing code)"
_HEADS_KEY = "pairdesk.outbox.enqueued_heads"
_TABLE = cast(Table, OutboxRow.__table__)

# `enqueue`'s three statements, built once: it runs for every QR on its way to the
# webhook, and building a statement (and its cache key) cost more CPU than running
# it (docs/SYNC.md). Core statements: no ORM object is loaded or flushed.
_SUPERSEDE = (
    update(_TABLE)
    .where(
        _TABLE.c.session_id == bindparam("b_session"),
        _TABLE.c.state == _PENDING,
        _TABLE.c.name.in_(_SUPERSEDABLE),
    )
    .values(state=OutboxState.SUPERSEDED.value)
)
_INSERT = insert(_TABLE)
_OLDER_PENDING = (
    select(_TABLE.c.id)
    .where(
        _TABLE.c.state == _PENDING,
        _TABLE.c.session_id == bindparam("b_session"),
        _TABLE.c.id < bindparam("b_id"),
    )
    .limit(1)
)


def _to_item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        event_id=row.event_id,
        session_id=row.session_id,
        name=row.name,
        payload=dict(row.payload),
        created_at=row.created_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        state=OutboxState(row.state),
        last_error=row.last_error,
        last_status=row.last_status,
        last_attempt_at=row.last_attempt_at,
        sent_at=row.sent_at,
    )


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def enqueue(
    session: Session,
    *,
    event_id: uuid.UUID | str,
    session_id: str,
    name: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> OutboxItem:
    """Add an event for delivery as soon as possible, superseding stale QR rows.

    Any pending `qr_code_generated` or `pairing_code_generated` row of the same
    session is marked `superseded` first: whatever is enqueued now (a newer QR
    or code, or a state event) makes it obsolete.
    """
    session.execute(_SUPERSEDE, {"b_session": session_id})
    values: dict[str, Any] = {
        "event_id": _as_uuid(event_id),
        "session_id": session_id,
        "name": str(name),
        "payload": dict(payload),
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "state": _PENDING,
    }
    inserted = cast("CursorResult[Any]", session.execute(_INSERT, values))
    key = inserted.inserted_primary_key
    assert key is not None  # a single-row INSERT always has one
    item = OutboxItem(
        id=int(key[0]),
        event_id=values["event_id"],
        session_id=session_id,
        name=values["name"],
        payload=dict(payload),
        created_at=now,
        next_attempt_at=now,
    )
    heads: list[OutboxItem] = session.info.setdefault(_HEADS_KEY, [])
    # Rows the update above superseded are no longer anyone's head.
    heads[:] = [h for h in heads if not (h.session_id == session_id and h.supersedable)]
    older = session.scalar(_OLDER_PENDING, {"b_session": session_id, "b_id": item.id})
    if older is None:
        heads.append(item)
    return item


def take_enqueued_heads(session: Session) -> list[OutboxItem]:
    """The rows `enqueue` added through `session` that were their session's oldest pending row.

    Call it after the transaction committed (never for one that rolled back):
    each such row is due now and may be sent without reading it back, as
    long as nothing else of its session is on the wire. Each row is handed
    out once.
    """
    heads: list[OutboxItem] = session.info.pop(_HEADS_KEY, [])
    return heads


def _heads(session_ids: Collection[str] | None) -> Any:
    """Subquery: the oldest pending row id of every session (optionally some sessions)."""
    stmt = select(func.min(OutboxRow.id).label("id")).where(OutboxRow.state == _PENDING)
    if session_ids is not None:
        stmt = stmt.where(OutboxRow.session_id.in_(list(session_ids)))
    return stmt.group_by(OutboxRow.session_id).subquery()


def next_due(
    session: Session,
    now: datetime,
    limit: int = 100,
    *,
    session_ids: Collection[str] | None = None,
) -> list[OutboxItem]:
    """For each session, its oldest pending row if that row is due (`next_attempt_at <= now`).

    At most one row per session, so a deliverer that sends the batch
    concurrently still keeps per-session order. `session_ids` restricts the
    search to the sessions one instance runs. Most overdue first.
    """
    if session_ids is not None and not session_ids:
        return []
    heads = _heads(session_ids)
    stmt = (
        select(OutboxRow)
        .join(heads, OutboxRow.id == heads.c.id)
        .where(OutboxRow.next_attempt_at <= now)
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
    )
    return [_to_item(row) for row in session.scalars(stmt)]


def next_wakeup(session: Session, *, session_ids: Collection[str] | None = None) -> datetime | None:
    """When the earliest session head becomes due (may be in the past); None if idle."""
    if session_ids is not None and not session_ids:
        return None
    heads = _heads(session_ids)
    stmt = select(func.min(OutboxRow.next_attempt_at)).join(heads, OutboxRow.id == heads.c.id)
    return session.scalar(stmt)


def get(session: Session, event_id: uuid.UUID | str) -> OutboxItem | None:
    row = session.scalar(select(OutboxRow).where(OutboxRow.event_id == _as_uuid(event_id)))
    return None if row is None else _to_item(row)


def _attempt(
    session: Session, event_id: uuid.UUID | str, states: tuple[str, ...], **values: Any
) -> bool:
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.event_id == _as_uuid(event_id), OutboxRow.state.in_(states))
        .values(attempts=OutboxRow.attempts + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def mark_sent(
    session: Session, event_id: uuid.UUID | str, *, now: datetime, status: int | None = None
) -> bool:
    """The central API accepted the event. Also for a row superseded while in flight.

    Returns False when no such unsent row exists (e.g. already marked).
    """
    return _attempt(
        session,
        event_id,
        (_PENDING, OutboxState.SUPERSEDED.value),
        state=OutboxState.SENT.value,
        sent_at=now,
        last_attempt_at=now,
        last_status=status,
    )


def mark_retry(
    session: Session,
    event_id: uuid.UUID | str,
    *,
    now: datetime,
    next_attempt_at: datetime,
    error: str,
    status: int | None = None,
) -> bool:
    """A retryable failure (429, 5xx, timeout, connection error): try again later.

    Only a pending row is changed; a QR superseded meanwhile stays superseded.
    """
    return _attempt(
        session,
        event_id,
        (_PENDING,),
        next_attempt_at=next_attempt_at,
        last_attempt_at=now,
        last_error=error[:MAX_ERROR_LENGTH],
        last_status=status,
    )


def mark_dead(
    session: Session,
    event_id: uuid.UUID | str,
    *,
    now: datetime,
    status: int | None,
    body_start: str = "",
    error: str = "",
) -> bool:
    """Refused for good (a 4xx other than 429): keep it for the operator to read and retry."""
    shown = error or (f"HTTP {status}" if status is not None else "refused")
    if body_start:
        shown = f"{shown}: {body_start[:MAX_BODY_START]}"
    return _attempt(
        session,
        event_id,
        (_PENDING,),
        state=OutboxState.DEAD.value,
        last_attempt_at=now,
        last_error=shown[:MAX_ERROR_LENGTH],
        last_status=status,
    )


def retry_dead(
    session: Session, *, now: datetime, event_ids: Collection[uuid.UUID | str] | None = None
) -> int:
    """Make dead rows pending again (all, or those named); returns how many.

    A dead row is only re-queued when nothing later of its session has been
    sent or is pending: otherwise the platform already holds (or is about to
    receive) a newer state, and delivering the old event now would regress it.
    Such a row is marked `superseded`, with `last_error` saying why. A dead QR
    row that anything later of its session overtook is superseded likewise (a
    stale QR). Dead rows retried together keep their order: a later row that
    is dead too does not hold an earlier one back. Attempts restart at 0 so the
    deliverer's backoff starts short.
    """
    dead = OutboxRow.state == OutboxState.DEAD.value
    scope = [dead]
    if event_ids is not None:
        if not event_ids:
            return 0
        scope.append(OutboxRow.event_id.in_([_as_uuid(e) for e in event_ids]))
    newer = aliased(OutboxRow)
    later = (newer.session_id == OutboxRow.session_id, newer.id > OutboxRow.id)
    overtaken = select(newer.id).where(*later).exists()
    delivered_after = (
        select(newer.id).where(*later, newer.state.in_([OutboxState.SENT.value, _PENDING])).exists()
    )
    # Both updates only read sent/pending rows and rows that stay non-pending,
    # so the first cannot change what the second sees (same on SQLite and PostgreSQL).
    session.execute(
        update(OutboxRow)
        .where(*scope, OutboxRow.name.in_(_SUPERSEDABLE), overtaken)
        .values(state=OutboxState.SUPERSEDED.value, last_error=STALE_QR)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxRow)
        .where(*scope, delivered_after)
        .values(state=OutboxState.SUPERSEDED.value, last_error=OVERTAKEN)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        update(OutboxRow)
        .where(*scope)
        .values(state=_PENDING, attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def list_items(
    session: Session,
    *,
    state: OutboxState | None = None,
    session_id: str | None = None,
    limit: int = 100,
) -> list[OutboxItem]:
    """Rows for diagnostics, oldest first, optionally of one state and/or session."""
    stmt = select(OutboxRow).order_by(OutboxRow.id).limit(limit)
    if state is not None:
        stmt = stmt.where(OutboxRow.state == state.value)
    if session_id is not None:
        stmt = stmt.where(OutboxRow.session_id == session_id)
    return [_to_item(row) for row in session.scalars(stmt)]


def list_dead(session: Session, *, limit: int = 100) -> list[OutboxItem]:
    """Dead rows, oldest first, each with its status and response start in `last_error`."""
    return list_items(session, state=OutboxState.DEAD, limit=limit)


def metrics(session: Session, now: datetime) -> DeliveryMetrics:
    """Counts per state, the age of the oldest pending row and the latest error."""
    # A Result has .keys(), so dict(result) would treat it as a mapping.
    rows = session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
    counts = {state: count for state, count in rows}
    oldest = session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.state == _PENDING)
    )
    last = session.execute(
        select(OutboxRow.last_error, OutboxRow.last_attempt_at)
        .where(OutboxRow.last_error != "", OutboxRow.last_attempt_at.is_not(None))
        .order_by(OutboxRow.last_attempt_at.desc(), OutboxRow.id.desc())
        .limit(1)
    ).first()
    return DeliveryMetrics(
        pending=counts.get(_PENDING, 0),
        oldest_pending_age=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        delivered=counts.get(OutboxState.SENT.value, 0),
        dead=counts.get(OutboxState.DEAD.value, 0),
        superseded=counts.get(OutboxState.SUPERSEDED.value, 0),
        last_error=last[0] if last else "",
        last_error_at=last[1] if last else None,
    )


def purge_delivered(session: Session, *, older_than: datetime) -> int:
    """Delete sent and superseded rows created before `older_than`; returns how many.

    Housekeeping only: pending and dead rows are never deleted.
    """
    result = session.execute(
        delete(OutboxRow)
        .where(
            OutboxRow.state.in_([OutboxState.SENT.value, OutboxState.SUPERSEDED.value]),
            OutboxRow.created_at < older_than,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
