"""The instance store of a fleet member: every write about a session is fenced.

`SqlInstanceStore` (app/engine/instance/store.py) writes a session's state,
timeline and outbox rows in one transaction; here that transaction first
checks the member's lease (owner and epoch, unexpired, `FOR SHARE`) and is
refused with `StaleEpoch` when another member took the session, and the
outbox rows it queued carry the epoch. Heartbeats of sessions no longer held
are dropped. The member's registration lives in `fleet_members`, so the
local engine's `instances` table (keyed by shard index) is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.domain.events import EngineEvent, SessionHeartbeat
from app.domain.models import SessionInfo
from app.domain.outbox import OutboxDraft, OutboxItem
from app.engine.instance.store import SqlInstanceStore
from app.fleet.leases import LeaseStore
from app.store import accounts, upgrade
from app.store.models import OutboxRow

log = logging.getLogger(__name__)


class FencedInstanceStore(SqlInstanceStore):
    """`SqlInstanceStore` whose session writes need a current lease of `member`."""

    def __init__(self, *, leases: LeaseStore, member: str, epochs: dict[str, int]) -> None:
        super().__init__(url=str(leases.engine.url), engine=leases.engine)
        self._member = member
        self._fleet_engine = leases.engine
        # session id -> epoch held; the member's loop updates it, the recorder reads it.
        self._epochs = epochs

    def prepare(self, *, instance_id: str, index: int, url: str, pid: int, capacity: int) -> None:
        upgrade(self._fleet_engine)  # registration is the member's (fleet_members)

    def assigned(self, instance_id: str) -> list[SessionInfo]:
        # Nothing is assigned at start: sessions come by claiming leases.
        return [info for info in super().assigned(instance_id) if info.session_id in self._epochs]

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
        return None  # a member's load is read from its /health

    def mark_stopped(self, instance_id: str) -> None:
        return None

    def assign(self, session_id: str, epoch: int) -> SessionInfo:
        """Point the account at this member (fenced), and return it."""
        with self.sessions.begin() as session:
            LeaseStore.fence(session, session_id, self._member, epoch)
            accounts.assign_instance(session, session_id, self._member)
            return accounts.get_account(session, session_id)

    def record(
        self,
        events: Sequence[EngineEvent],
        on_outbox: Callable[[Sequence[OutboxItem]], None] | None = None,
    ) -> tuple[int, int]:
        """Record the events of sessions this member holds; the others are fenced off."""
        kept: list[EngineEvent] = []
        for event in events:
            sid = getattr(event, "session_id", None)
            if sid in self._epochs:
                kept.append(event)
            elif not isinstance(event, SessionHeartbeat):
                log.info("%s: %s not recorded, this member no longer holds it", sid, event.type)
        return super().record(kept, on_outbox)

    def _record_one(self, session: Session, event: EngineEvent, drafts: list[OutboxDraft]) -> None:
        sid = str(getattr(event, "session_id", ""))
        epoch = self._epochs.get(sid, -1)  # dropped since `record` looked: the fence refuses
        LeaseStore.fence(session, sid, self._member, epoch)
        super()._record_one(session, event, drafts)
        if drafts:
            # The rows this transaction queued (fleet rows always carry an epoch).
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.session_id == sid, OutboxRow.epoch.is_(None))
                .values(epoch=epoch)
            )
