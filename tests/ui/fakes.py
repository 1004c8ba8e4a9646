"""`FakeEngine`: satisfies `app.engine.api.Engine` (checked by mypy), records calls, emits
scripted events."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

from app.domain.events import EngineEvent, QrIssued, SessionStateChanged, utcnow
from app.domain.models import AccountSpec, InstanceInfo, SessionInfo, TimelineEntry
from app.domain.outbox import OutboxItem
from app.domain.states import SessionState
from app.engine.api import WARM_UP_SECONDS, DoctorCheck, Engine, EngineError

_END = object()


class FakeEngine:
    """In-memory engine for console tests. `push()` is safe from any thread."""

    provider_url = ""
    central_url = ""
    sandbox_url = ""

    def __init__(
        self,
        sessions: Sequence[SessionInfo] = (),
        instances: Sequence[InstanceInfo] = (),
    ) -> None:
        self.sessions = {s.session_id: s for s in sessions}
        self.instances = list(instances) or [InstanceInfo(instance_id="i-1", index=1, capacity=50)]
        self.calls: list[tuple[str, object]] = []
        self.outbox: list[OutboxItem] = []
        # `warm_up` calls, in order: the pages asked for, and the seconds (not in `calls`,
        # so tests that assert `calls` exactly need not know about warm-ups).
        self.warm_ups: list[int] = []
        self.warm_up_seconds: list[float] = []
        self.closed = False
        self._queues: list[asyncio.Queue[object]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def push(self, *events: EngineEvent) -> None:
        assert self._loop is not None, "engine not started"
        for ev in events:
            self._loop.call_soon_threadsafe(self._put, ev)

    def _put(self, item: object) -> None:
        for q in self._queues:
            q.put_nowait(item)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.calls.append(("start", None))

    async def aclose(self) -> None:
        self.closed = True
        self.calls.append(("aclose", None))
        self._put(_END)

    def subscribe(self) -> AsyncIterator[EngineEvent]:
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._queues.append(queue)

        async def gen() -> AsyncIterator[EngineEvent]:
            while (item := await queue.get()) is not _END:
                yield item  # type: ignore[misc]

        return gen()

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        out = []
        for k, spec in enumerate(specs):
            info = SessionInfo(
                session_id=f"s-{spec.workspace_id}-{k}",
                workspace_id=spec.workspace_id,
                label=spec.label,
                phone_number=spec.phone_number,
                proxy=spec.proxy.display if spec.proxy is not None else "",
            )
            self.sessions[info.session_id] = info
            out.append(info)
        self.calls.append(("add_accounts", list(specs)))
        self.add_started = start
        return out

    async def _record(self, name: str, arg: object) -> None:
        self.calls.append((name, arg))

    async def start_session(self, session_id: str) -> None:
        await self._record("start_session", session_id)

    async def stop_session(self, session_id: str) -> None:
        await self._record("stop_session", session_id)

    async def restart_session(self, session_id: str) -> None:
        await self._record("restart_session", session_id)

    async def logout_session(self, session_id: str) -> None:
        await self._record("logout_session", session_id)

    async def regenerate_qr(self, session_id: str) -> None:
        await self._record("regenerate_qr", session_id)

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        await self._record("request_pairing_code", (session_id, phone))

    async def open_window(self, session_id: str) -> None:
        await self._record("open_window", session_id)

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> None:
        self.warm_ups.append(pages)
        self.warm_up_seconds.append(seconds)

    async def set_proxy(self, session_id: str, proxy: str) -> SessionInfo:
        await self._record("set_proxy", (session_id, proxy))
        if proxy and "://" not in proxy:
            raise EngineError("proxy: no scheme")
        shown = proxy.split("://")[0] + "://" + proxy.split("@")[-1] if proxy else ""
        info = dataclasses.replace(self.sessions[session_id], proxy=shown)
        self.sessions[session_id] = info
        return info

    async def remove_account(self, session_id: str) -> None:
        await self._record("remove_account", session_id)

    async def list_sessions(self) -> list[SessionInfo]:
        return list(self.sessions.values())

    async def list_instances(self) -> list[InstanceInfo]:
        return list(self.instances)

    async def restart_instance(self, instance_id: str) -> None:
        await self._record("restart_instance", instance_id)

    async def add_instance(self) -> InstanceInfo:
        info = InstanceInfo(instance_id=f"i-{len(self.instances) + 1}", index=2)
        self.instances.append(info)
        return info

    async def session_timeline(self, session_id: str) -> list[TimelineEntry]:
        at = utcnow()
        return [
            TimelineEntry(
                session_id=session_id,
                state=SessionState.STARTING,
                previous=None,
                reason=None,
                at=at,
            )
        ]

    async def list_outbox(self, state: str = "") -> list[OutboxItem]:
        return [o for o in self.outbox if not state or o.state == state]

    async def retry_outbox(self, event_ids: Sequence[str] = ()) -> int:
        self.calls.append(("retry_outbox", list(event_ids)))
        return len(event_ids)

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        return [f"[{instance_id}] token=SECRET-TOKEN-123 started"]

    async def doctor(self) -> list[DoctorCheck]:
        return []


def _is_an_engine(engine: FakeEngine) -> Engine:
    return engine  # mypy checks here that FakeEngine satisfies the Engine Protocol


def qr_event(
    sid: str, ws: int = 1, *, qr: str = "", life: float = 60.0, age: float = 0.0
) -> QrIssued:
    """A `QrIssued` issued `age` seconds ago that lives `life` seconds."""
    at = utcnow() - timedelta(seconds=age)
    return QrIssued(
        at=at,
        session_id=sid,
        workspace_id=ws,
        qr=qr or f"2@{sid}-ref,abc,def",
        expires_at=at + timedelta(seconds=life),
        qr_count=1,
    )


def state_event(sid: str, state: SessionState, ws: int = 1, **kw: object) -> SessionStateChanged:
    return SessionStateChanged(session_id=sid, workspace_id=ws, state=state, **kw)  # type: ignore[arg-type]
