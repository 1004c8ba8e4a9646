"""The engine's door to the store: each call one short transaction in a worker thread.

SQLAlchemy sessions are synchronous and must not block the engine's loop, so
every call runs in `asyncio.to_thread` with its own unit of work. Store errors
become `EngineError`s worded for the operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.domain.events import utcnow
from app.domain.ids import InvalidIdentifier
from app.domain.models import AccountSpec, SessionInfo, TimelineEntry
from app.domain.outbox import DeliveryMetrics, OutboxItem, OutboxState
from app.domain.proxy import Proxy
from app.domain.states import Reason, SessionState
from app.engine.errors import EngineError
from app.store import DuplicateSessionId, StoreError, accounts, outbox, timeline

__all__ = ["EngineStore"]

T = TypeVar("T")


class EngineStore:
    """Accounts, assignments, timelines and the outbox, as the engine needs them."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def _run(self, work: Callable[[Session], T], *, write: bool = False) -> T:
        def call() -> T:
            if write:
                with self._sessions.begin() as session:
                    return work(session)
            with self._sessions() as session:
                return work(session)

        try:
            return await asyncio.to_thread(call)
        except DuplicateSessionId as exc:
            raise EngineError(
                f"these session ids are already taken: {exc}; leave session_id empty to "
                "have pairdesk make new ones"
            ) from None
        except InvalidIdentifier as exc:
            raise EngineError(str(exc)) from None
        except StoreError as exc:
            raise EngineError(f"the database refused the change: {exc}") from None

    async def create_accounts(self, specs: Sequence[AccountSpec]) -> list[SessionInfo]:
        now = self._clock()
        return await self._run(
            lambda s: accounts.create_accounts(s, list(specs), now=now), write=True
        )

    async def list_accounts(self) -> list[SessionInfo]:
        return await self._run(lambda s: accounts.list_accounts(s))

    async def get(self, session_id: str) -> SessionInfo | None:
        return await self._run(lambda s: accounts.find_account(s, session_id))

    async def assign(self, assignments: Mapping[str, str | None]) -> None:
        if assignments:
            await self._run(lambda s: accounts.assign_instances(s, dict(assignments)), write=True)

    async def record_stop(
        self, session_id: str, reason: Reason, detail: str, *, at: datetime
    ) -> None:
        """Record `stopped(reason)` with `detail` in the account's row and timeline."""
        await self._run(
            lambda s: accounts.record_transition(
                s, session_id, SessionState.STOPPED, at=at, reason=reason, detail=detail
            ),
            write=True,
        )

    async def set_proxy(self, session_id: str, proxy: Proxy | None) -> SessionInfo:
        return await self._run(lambda s: accounts.set_proxy(s, session_id, proxy), write=True)

    async def delete(self, session_id: str) -> bool:
        return await self._run(lambda s: accounts.delete_account(s, session_id), write=True)

    async def timeline(self, session_id: str) -> list[TimelineEntry]:
        return await self._run(lambda s: timeline.list_events(s, session_id))

    async def outbox(self, state: str = "") -> list[OutboxItem]:
        wanted = OutboxState(state) if state else None

        def work(s: Session) -> list[OutboxItem]:
            if wanted is not None:
                items = outbox.list_items(s, state=wanted, limit=500)
            else:
                items = [
                    *outbox.list_items(s, state=OutboxState.PENDING, limit=500),
                    *outbox.list_items(s, state=OutboxState.DEAD, limit=500),
                ]
            return sorted(items, key=lambda item: item.id, reverse=True)

        return await self._run(work)

    async def delivery_metrics(self) -> DeliveryMetrics:
        now = self._clock()
        return await self._run(lambda s: outbox.metrics(s, now))

    async def retry_outbox(self, event_ids: Sequence[str]) -> int:
        now = self._clock()
        ids = list(event_ids) or None
        return await self._run(lambda s: outbox.retry_dead(s, now=now, event_ids=ids), write=True)
