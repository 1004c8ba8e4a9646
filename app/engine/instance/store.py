"""How an instance writes what happens to the store: state, timeline and outbox.

`SqlInstanceStore` is the instance's unit-of-work layer over `app.store`: each
state change is one transaction that updates the account, appends the
timeline row and enqueues the webhook the contract names for it
(`app.sync.payloads.webhook_for`), so the central API hears about exactly the
changes that were recorded. `recorder.EventRecorder` feeds it from the event loop: the
host's `emit` only queues, and one task writes in order in a worker thread,
batching heartbeats into one statement per batch.

Methods of `SqlInstanceStore` are blocking; the instance calls them through
`asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.domain.events import (
    EngineEvent,
    InstanceLoad,
    PairingCodeIssued,
    QrIssued,
    SessionError,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
    utcnow,
)
from app.domain.models import SessionInfo
from app.domain.outbox import DeliveryMetrics, OutboxDraft, OutboxItem
from app.domain.proxy import Proxy
from app.domain.states import IllegalTransition, Reason, SessionState
from app.engine.session.folder import SessionFolder
from app.store import accounts, instances, outbox
from app.store.db import create_engine_for, session_factory, upgrade
from app.store.errors import AccountNotFound, StoreError
from app.sync.payloads import outbox_draft

log = logging.getLogger(__name__)


class InstanceStore(Protocol):
    """The store operations of one instance; all blocking (run them in a thread)."""

    def prepare(self, *, instance_id: str, index: int, url: str, pid: int, capacity: int) -> None:
        """Migrate the database and register the instance."""

    def assigned(self, instance_id: str) -> list[SessionInfo]: ...

    def get(self, session_id: str) -> SessionInfo | None: ...

    def proxy_of(self, session_id: str) -> Proxy | None:
        """The account's proxy with its password (`InvalidProxy` if the stored one is bad)."""
        ...

    def set_proxy(self, session_id: str, proxy: Proxy | None) -> SessionInfo: ...

    def ensure_account(
        self,
        *,
        session_id: str,
        workspace_id: int,
        account_id: int | None,
        label: str,
        instance_id: str,
        proxy: Proxy | None = None,
    ) -> SessionInfo: ...

    def record(
        self,
        events: Sequence[EngineEvent],
        on_outbox: Callable[[Sequence[OutboxItem]], None] | None = None,
    ) -> tuple[int, int]:
        """Write events in order; returns (recorded, failed)."""
        ...

    def report_load(
        self,
        instance_id: str,
        *,
        url: str,
        cpu_percent: float,
        memory_bytes: int,
        sessions_total: int,
        sessions_connected: int,
    ) -> None: ...

    def mark_stopped(self, instance_id: str) -> None: ...

    def delivery_metrics(self) -> DeliveryMetrics | None: ...


def should_restore(info: SessionInfo, sessions_dir: Path) -> bool:
    """Whether an instance starting up reopens this session by itself.

    It does when the session was running (or stopped only because its instance
    went down) and it has a login to restore: a snapshot folder or a past
    connection. Sessions an operator stopped, logged out or failed ones wait
    for an operator; sessions that never linked wait for someone to ask for a
    QR (a QR nobody looks at wastes a renderer and the phone user's retries).
    """
    if info.state is SessionState.STOPPED:
        if info.reason is not Reason.INSTANCE_RESTART:
            return False
    elif not info.state.running:
        return False
    folder = SessionFolder(sessions_dir, info.workspace_id, info.session_id)
    return info.connected_at is not None or folder.exists()


class SqlInstanceStore:
    """`InstanceStore` over `app.store` for the database at `url`.

    `pairing_code_webhook` (the setting of the same name, off by default) decides
    whether pairing codes are queued for the platform: one that does not know the
    event would answer 4xx and fill the dead list with them (docs/SYNC.md)."""

    def __init__(
        self,
        *,
        url: str,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utcnow,
        pairing_code_webhook: bool = False,
    ) -> None:
        self._engine = engine or create_engine_for(url)
        self._sessions: sessionmaker[Session] = session_factory(self._engine)
        self._clock = clock
        self._pairing_code_webhook = pairing_code_webhook

    def _drafts(self, event: EngineEvent) -> list[OutboxDraft]:
        if isinstance(event, PairingCodeIssued) and not self._pairing_code_webhook:
            return []
        draft = outbox_draft(event)
        return [] if draft is None else [draft]

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory, for the outbox deliverer to share the engine."""
        return self._sessions

    def close(self) -> None:
        self._engine.dispose()

    def prepare(self, *, instance_id: str, index: int, url: str, pid: int, capacity: int) -> None:
        upgrade(self._engine)
        with self._sessions.begin() as session:
            instances.upsert_instance(
                session,
                instance_id=instance_id,
                index=index,
                url=url,
                pid=pid,
                started_at=self._clock(),
                capacity=capacity,
            )

    def assigned(self, instance_id: str) -> list[SessionInfo]:
        with self._sessions() as session:
            return accounts.list_accounts(session, instance_id=instance_id)

    def get(self, session_id: str) -> SessionInfo | None:
        with self._sessions() as session:
            return accounts.find_account(session, session_id)

    def proxy_of(self, session_id: str) -> Proxy | None:
        with self._sessions() as session:
            return accounts.proxy_of(session, session_id)

    def set_proxy(self, session_id: str, proxy: Proxy | None) -> SessionInfo:
        with self._sessions.begin() as session:
            return accounts.set_proxy(session, session_id, proxy)

    def ensure_account(
        self,
        *,
        session_id: str,
        workspace_id: int,
        account_id: int | None,
        label: str,
        instance_id: str,
        proxy: Proxy | None = None,
    ) -> SessionInfo:
        from app.domain.models import AccountSpec

        with self._sessions.begin() as session:
            existing = accounts.find_account(session, session_id)
            if existing is None:
                accounts.create_account(
                    session,
                    AccountSpec(
                        workspace_id=workspace_id,
                        session_id=session_id,
                        account_id=account_id,
                        label=label,
                        proxy=proxy,
                    ),
                    now=self._clock(),
                )
            else:
                if account_id is not None or label:
                    accounts.update_account(
                        session, session_id, account_id=account_id, label=label or None
                    )
                if proxy is not None:
                    accounts.set_proxy(session, session_id, proxy)
            accounts.assign_instance(session, session_id, instance_id)
            return accounts.get_account(session, session_id)

    # ----------------------------------------------------------------- events

    def record(
        self,
        events: Sequence[EngineEvent],
        on_outbox: Callable[[Sequence[OutboxItem]], None] | None = None,
    ) -> tuple[int, int]:
        """Write `events` in order, one transaction each (heartbeats batched).

        `on_outbox` is called (from this worker thread) right after each commit
        that queued a webhook, so delivery starts without waiting for the rest
        of the batch: under a burst, a QR's webhook no longer queues behind
        up to the recorder's batch of other transactions. It is given the
        committed rows that were their session's oldest pending row
        (`outbox.take_enqueued_heads`), which the deliverer can send without
        reading them back.
        """
        recorded = failed = 0
        beats = [e for e in events if isinstance(e, SessionHeartbeat)]
        if beats:
            latest = {b.session_id: b for b in beats}
            try:
                with self._sessions.begin() as session:
                    accounts.record_heartbeats(session, latest.values())
                recorded += len(beats)
            except Exception:
                log.warning("could not record %d heartbeat(s)", len(beats), exc_info=True)
                failed += len(beats)
        for event in events:
            if isinstance(event, SessionHeartbeat):
                continue
            try:
                # Build the webhook (QR PNG included) before the transaction opens, so
                # SQLite's write lock is never held while a QR renders.
                drafts = self._drafts(event)
                if isinstance(event, PairingCodeIssued) and not drafts:
                    continue  # not sent (the setting is off) and not stored: nothing to do
                with self._sessions.begin() as session:
                    self._record_one(session, event, drafts)
                recorded += 1
                if drafts and on_outbox is not None:
                    on_outbox(outbox.take_enqueued_heads(session))
            except AccountNotFound:
                log.debug("event for %s, which has no account; not recorded", _sid(event))
            except IllegalTransition as exc:
                failed += 1
                log.error("store and engine disagree about a session: %s", exc)
            except Exception:
                failed += 1
                log.exception("could not record a %s event of %s", event.type, _sid(event))
        return recorded, failed

    def _record_one(self, session: Session, event: EngineEvent, drafts: list[OutboxDraft]) -> None:
        if isinstance(event, SessionStateChanged):
            accounts.record_transition(
                session,
                event.session_id,
                event.state,
                at=event.at,
                reason=event.reason,
                detail=event.detail,
                phone_number=event.phone_number or None,
                count_restart=event.is_restart,
                outbox=drafts,
            )
        elif isinstance(event, QrIssued):
            accounts.record_qr(
                session,
                event.session_id,
                at=event.at,
                qr_count=event.qr_count,
                extraction_method=event.extraction_method,
                outbox=drafts,
            )
        elif isinstance(event, SessionReady | SessionError | PairingCodeIssued):
            stored = accounts.get_account(session, event.session_id)  # raises when unknown
            if isinstance(event, SessionReady) and event.phone_number and not stored.phone_number:
                # Only a first phone is stored: another phone linking an account with one
                # is the wrong customer (onboarding logs it out), never its new number.
                accounts.update_account(session, event.session_id, phone_number=event.phone_number)
            for draft in drafts:
                outbox.enqueue(
                    session,
                    event_id=draft.event_id,
                    session_id=event.session_id,
                    name=draft.name,
                    payload=draft.payload,
                    now=event.at,
                )

    # --------------------------------------------------------------- instance

    def report_load(
        self,
        instance_id: str,
        *,
        url: str,
        cpu_percent: float,
        memory_bytes: int,
        sessions_total: int,
        sessions_connected: int,
    ) -> None:
        with self._sessions.begin() as session:
            instances.record_instance_load(
                session,
                InstanceLoad(
                    instance_id=instance_id,
                    url=url,
                    cpu_percent=cpu_percent,
                    memory_bytes=memory_bytes,
                    sessions_total=sessions_total,
                    sessions_connected=sessions_connected,
                    at=self._clock(),
                ),
            )

    def mark_stopped(self, instance_id: str) -> None:
        with self._sessions.begin() as session:
            instances.mark_instance_stopped(session, instance_id, at=self._clock())

    def delivery_metrics(self) -> DeliveryMetrics | None:
        try:
            with self._sessions() as session:
                return outbox.metrics(session, self._clock())
        except StoreError:
            return None


def _sid(event: EngineEvent) -> str:
    return str(getattr(event, "session_id", "?"))
