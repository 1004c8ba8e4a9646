"""Accounts: creating them, finding them, and recording what happens to them.

The engine's writes go through here so that each change is one consistent
step in the caller's transaction: `record_transition` updates the account,
appends the timeline row and enqueues the webhook(s) together, so a crash can
never leave a state change that the central API will not hear about (or the
reverse). Every function takes the caller's `Session` and never commits;
results are `app.domain` values, never ORM rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.events import SessionHeartbeat
from app.domain.ids import (
    InvalidIdentifier,
    make_session_id,
    normalize_phone,
    validate_session_id,
    validate_workspace_id,
)
from app.domain.input_checks import text_problem
from app.domain.models import AccountSpec, SessionInfo, TimelineEntry
from app.domain.outbox import OutboxDraft
from app.domain.proxy import Proxy, parse_proxy
from app.domain.states import IllegalTransition, Reason, SessionState, can_transition
from app.store import outbox as outbox_repo
from app.store import timeline
from app.store.errors import AccountNotFound, DuplicateSessionId
from app.store.models import Account

__all__ = [
    "assign_instance",
    "assign_instances",
    "count_by_state",
    "create_account",
    "create_accounts",
    "delete_account",
    "existing_session_ids",
    "find_account",
    "get_account",
    "list_accounts",
    "proxy_of",
    "record_heartbeat",
    "record_heartbeats",
    "record_qr",
    "record_transition",
    "set_proxy",
    "update_account",
]

MAX_LABEL_LENGTH = 200
_CHUNK = 500  # keeps IN (...) lists well under every database's parameter limit


def _to_info(row: Account) -> SessionInfo:
    return SessionInfo(
        session_id=row.session_id,
        workspace_id=row.workspace_id,
        label=row.label,
        account_id=row.account_id,
        account_uuid=str(row.uuid),
        state=SessionState(row.state),
        reason=Reason(row.reason) if row.reason else None,
        phone_number=row.phone_number,
        instance_id=row.instance_id or "",
        connected_at=row.connected_at,
        last_heartbeat_at=row.last_heartbeat_at,
        heartbeat_latency_ms=row.heartbeat_latency_ms,
        qr_issued_at=row.qr_issued_at,
        qr_count=row.qr_count,
        restarts=row.restarts,
        memory_bytes=row.memory_bytes,
        extraction_method=row.extraction_method,
        platform=row.platform,
        proxy=row.proxy_url or "",
        created_at=row.created_at,
        updated_at=row.state_changed_at,
        import_batch_id=row.import_batch_id,
        metadata=dict(row.meta or {}),
    )


def _row(session: Session, session_id: str, *, lock: bool = False) -> Account:
    stmt = select(Account).where(Account.session_id == session_id)
    if lock:
        # PostgreSQL: two processes moving the same session queue up here.
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise AccountNotFound(session_id)
    return row


def existing_session_ids(session: Session, session_ids: Iterable[str]) -> set[str]:
    """Which of these session ids are already taken (for validating imports up front)."""
    wanted = list(dict.fromkeys(session_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(
            session.scalars(select(Account.session_id).where(Account.session_id.in_(chunk)))
        )
    return found


def _label(value: str) -> str:
    label = value.strip()
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidIdentifier(f"label is {len(label)} characters; at most {MAX_LABEL_LENGTH}")
    if problem := text_problem(label):  # PostgreSQL refuses NUL; no driver encodes a surrogate
        raise InvalidIdentifier(f"label {problem}")
    return label


def _validated(spec: AccountSpec, now: datetime) -> dict[str, Any]:
    workspace = validate_workspace_id(spec.workspace_id)
    if spec.session_id:
        session_id = validate_session_id(spec.session_id, workspace_id=workspace)
    else:
        session_id = make_session_id(workspace, at=now)
    phone = normalize_phone(spec.phone_number) if spec.phone_number else ""
    return {
        "session_id": session_id,
        "workspace_id": workspace,
        "account_id": spec.account_id,
        "label": _label(spec.label),
        "phone_number": phone,
        **_proxy_columns(spec.proxy),
    }


def _proxy_columns(proxy: Proxy | None) -> dict[str, str]:
    if proxy is None:
        return {"proxy_url": "", "proxy_password": ""}
    return {"proxy_url": proxy.display, "proxy_password": proxy.password}


def create_accounts(
    session: Session,
    specs: Sequence[AccountSpec],
    *,
    now: datetime,
    import_batch_id: int | None = None,
) -> list[SessionInfo]:
    """Create stopped accounts, all or none; session ids are made where a spec has none.

    Raises an `InvalidIdentifier` (a `ValueError`, message prefixed with the
    account's position when there are several) for bad input, and
    `DuplicateSessionId` naming every id that repeats or already exists. On
    either error nothing is written and the caller's transaction stays usable.
    """
    values: list[dict[str, Any]] = []
    for position, spec in enumerate(specs, start=1):
        try:
            item = _validated(spec, now)
        except InvalidIdentifier as exc:
            if len(specs) == 1:
                raise
            raise type(exc)(f"account {position}: {exc}") from None
        values.append(item)
    ids = [item["session_id"] for item in values]
    repeated = {sid for sid in ids if ids.count(sid) > 1} if len(set(ids)) != len(ids) else set()
    taken = existing_session_ids(session, ids)
    if repeated or taken:
        raise DuplicateSessionId(sorted(repeated | taken))
    rows = [
        Account(
            **item,
            state=SessionState.STOPPED.value,
            central_status=SessionState.STOPPED.central_status.value,
            import_batch_id=import_batch_id,
            created_at=now,
            state_changed_at=now,
            memory_bytes=0,
            qr_count=0,
            restarts=0,
            extraction_method="",
            platform="",
            meta={},
        )
        for item in values
    ]
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
            for row in rows:
                timeline.append_event(
                    session,
                    session_id=row.session_id,
                    state=SessionState.STOPPED,
                    previous=None,
                    reason=None,
                    at=now,
                    detail="account created",
                )
    except IntegrityError:
        # Another process created one of these ids between our check and insert.
        raise DuplicateSessionId(sorted(existing_session_ids(session, ids))) from None
    return [_to_info(row) for row in rows]


def create_account(
    session: Session, spec: AccountSpec, *, now: datetime, import_batch_id: int | None = None
) -> SessionInfo:
    """One account; see `create_accounts`."""
    return create_accounts(session, [spec], now=now, import_batch_id=import_batch_id)[0]


def find_account(session: Session, session_id: str) -> SessionInfo | None:
    row = session.scalar(select(Account).where(Account.session_id == session_id))
    return None if row is None else _to_info(row)


def get_account(session: Session, session_id: str) -> SessionInfo:
    """The account, or `AccountNotFound`."""
    return _to_info(_row(session, session_id))


def list_accounts(
    session: Session,
    *,
    instance_id: str | None = None,
    unassigned: bool = False,
    states: Collection[SessionState] | None = None,
    workspace_id: int | None = None,
    import_batch_id: int | None = None,
) -> list[SessionInfo]:
    """Accounts matching every filter given, oldest first."""
    stmt = select(Account).order_by(Account.created_at, Account.session_id)
    if instance_id is not None:
        stmt = stmt.where(Account.instance_id == instance_id)
    if unassigned:
        stmt = stmt.where(Account.instance_id.is_(None))
    if states is not None:
        stmt = stmt.where(Account.state.in_([SessionState(s).value for s in states]))
    if workspace_id is not None:
        stmt = stmt.where(Account.workspace_id == workspace_id)
    if import_batch_id is not None:
        stmt = stmt.where(Account.import_batch_id == import_batch_id)
    return [_to_info(row) for row in session.scalars(stmt)]


def count_by_state(session: Session, *, instance_id: str | None = None) -> dict[SessionState, int]:
    """How many accounts are in each state (every state present, zeros included)."""
    stmt = select(Account.state, func.count()).group_by(Account.state)
    if instance_id is not None:
        stmt = stmt.where(Account.instance_id == instance_id)
    counts = dict.fromkeys(SessionState, 0)
    for state, count in session.execute(stmt):
        counts[SessionState(state)] = count
    return counts


def assign_instance(session: Session, session_id: str, instance_id: str | None) -> None:
    """Place the session on an instance (None: unassigned)."""
    _row(session, session_id).instance_id = instance_id or None
    session.flush()


def assign_instances(session: Session, assignments: Mapping[str, str | None]) -> None:
    """Several placements at once (a rebalance); unknown session ids raise `AccountNotFound`."""
    missing = set(assignments) - existing_session_ids(session, assignments)
    if missing:
        raise AccountNotFound(sorted(missing)[0])
    for session_id, instance_id in assignments.items():
        session.execute(
            update(Account)
            .where(Account.session_id == session_id)
            .values(instance_id=instance_id or None)
            .execution_options(synchronize_session="fetch")
        )


def _enqueue_all(
    session: Session, session_id: str, drafts: Sequence[OutboxDraft], at: datetime
) -> None:
    for draft in drafts:
        outbox_repo.enqueue(
            session,
            event_id=draft.event_id,
            session_id=session_id,
            name=draft.name,
            payload=draft.payload,
            now=at,
        )


def record_transition(
    session: Session,
    session_id: str,
    target: SessionState,
    *,
    at: datetime,
    reason: Reason | None = None,
    detail: str = "",
    phone_number: str | None = None,
    platform: str | None = None,
    extraction_method: str | None = None,
    count_restart: bool = False,
    outbox: Sequence[OutboxDraft] = (),
) -> TimelineEntry:
    """Move the account to `target`, append the timeline row and enqueue `outbox`.

    All in the caller's transaction, checked against the state machine from
    the stored state: an illegal move raises `IllegalTransition` and changes
    nothing. `count_restart` adds one to the account's restart counter (the
    engine sets it when it recovers a session). Reaching `connected` stamps
    `connected_at`; `phone_number` is normalised to E.164 digits and stored only
    when the account has none yet (a different phone never overwrites it).
    """
    target = SessionState(target)
    row = _row(session, session_id, lock=True)
    previous = SessionState(row.state)
    if not can_transition(previous, target):
        raise IllegalTransition(f"{session_id}: {previous} -> {target} is not a legal transition")
    row.state = target.value
    row.central_status = target.central_status.value
    row.reason = Reason(reason).value if reason is not None else None
    row.state_changed_at = at
    if target is SessionState.CONNECTED:
        row.connected_at = at
    if phone_number and not row.phone_number:
        # A stored phone is the account's own (from the sheet or its first link): another
        # phone that links it is the wrong customer and must not replace it.
        row.phone_number = normalize_phone(phone_number)
    if platform is not None:
        row.platform = platform[:32]
    if extraction_method is not None:
        row.extraction_method = extraction_method[:16]
    if count_restart:
        row.restarts += 1
    entry = timeline.append_event(
        session,
        session_id=session_id,
        state=target,
        previous=previous,
        reason=reason,
        at=at,
        detail=detail,
    )
    _enqueue_all(session, session_id, outbox, at)
    return entry


_ACCOUNTS = cast(Table, Account.__table__)
# `record_qr`'s statements, built once: it runs for every QR on its way to the
# webhook, and building a statement cost more CPU than running it (docs/SYNC.md).
_STAMP_QR = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.session_id == bindparam("b_session"))
    .values(qr_issued_at=bindparam("b_at"), qr_count=bindparam("b_count"))
)
_STAMP_QR_METHOD = _STAMP_QR.values(extraction_method=bindparam("b_method"))


def record_qr(
    session: Session,
    session_id: str,
    *,
    at: datetime,
    qr_count: int,
    extraction_method: str = "",
    outbox: Sequence[OutboxDraft] = (),
) -> None:
    """A new QR ref was shown: stamp it and enqueue its webhook (no timeline row).

    QR rotations are frequent and say nothing about how a session got where it
    is, so they update the account only; the `qr` state itself is recorded by
    `record_transition`. One UPDATE, with no account object loaded.
    """
    params: dict[str, Any] = {"b_session": session_id, "b_at": at, "b_count": qr_count}
    if extraction_method:
        params["b_method"] = extraction_method[:16]
    result = session.execute(_STAMP_QR_METHOD if extraction_method else _STAMP_QR, params)
    if not getattr(result, "rowcount", 0):
        raise AccountNotFound(session_id)
    _enqueue_all(session, session_id, outbox, at)


def record_heartbeat(
    session: Session,
    session_id: str,
    *,
    at: datetime,
    latency_ms: float | None = None,
    memory_bytes: int | None = None,
) -> bool:
    """Stamp a successful ping; False if the account no longer exists."""
    values: dict[str, Any] = {"last_heartbeat_at": at, "heartbeat_latency_ms": latency_ms}
    if memory_bytes is not None:
        values["memory_bytes"] = memory_bytes
    result = session.execute(
        update(Account)
        .where(Account.session_id == session_id)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


def record_heartbeats(session: Session, beats: Iterable[SessionHeartbeat]) -> int:
    """Many pings in one statement (an instance's heartbeat round); returns rows updated."""
    params = [
        {
            "sid": beat.session_id,
            "at": beat.at,
            "latency": beat.latency_ms,
            "memory": beat.memory_bytes,
        }
        for beat in beats
    ]
    if not params:
        return 0
    table = cast(Table, Account.__table__)
    stmt = (
        update(table)
        .where(table.c.session_id == bindparam("sid"))
        .values(
            last_heartbeat_at=bindparam("at"),
            heartbeat_latency_ms=bindparam("latency"),
            memory_bytes=bindparam("memory"),
        )
    )
    result = session.connection().execute(stmt, params)
    session.expire_all()
    return int(getattr(result, "rowcount", 0))


def update_account(
    session: Session,
    session_id: str,
    *,
    label: str | None = None,
    phone_number: str | None = None,
    account_id: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> SessionInfo:
    """Change descriptive fields; `metadata` keys are merged into the stored ones."""
    row = _row(session, session_id, lock=metadata is not None)
    if label is not None:
        row.label = _label(label)
    if phone_number is not None:
        row.phone_number = normalize_phone(phone_number) if phone_number else ""
    if account_id is not None:
        row.account_id = account_id
    if metadata is not None:
        row.meta = {**(row.meta or {}), **metadata}
    session.flush()
    return _to_info(row)


def set_proxy(session: Session, session_id: str, proxy: Proxy | None) -> SessionInfo:
    """Give the account its own proxy (None: none); a running session uses it from its
    next start. `AccountNotFound` for an unknown id."""
    row = _row(session, session_id, lock=True)
    columns = _proxy_columns(proxy)
    row.proxy_url, row.proxy_password = columns["proxy_url"], columns["proxy_password"]
    session.flush()
    return _to_info(row)


def proxy_of(session: Session, session_id: str) -> Proxy | None:
    """The account's proxy with its password (only for opening its browser context), or
    None. A stored value that no longer parses raises `InvalidProxy` rather than letting
    the session go out without its proxy."""
    row = session.execute(
        select(Account.proxy_url, Account.proxy_password).where(Account.session_id == session_id)
    ).first()
    if row is None or not row.proxy_url:
        return None
    return parse_proxy(row.proxy_url, password=row.proxy_password or "")


def delete_account(session: Session, session_id: str) -> bool:
    """Remove the account and its timeline; pending webhooks stay (they must still go out)."""
    result = session.execute(
        delete(Account)
        .where(Account.session_id == session_id)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))
