"""One account's session on an instance: its state machine, page and tasks.

A `Session` owns two tasks. The worker takes page signals and operator
commands from one queue and handles them one at a time, so nothing else ever
touches the session's page or state concurrently. The heartbeat pings the
page and feeds hangs and due snapshots back into that queue. Each page a
session opens gets a new generation number; signals from an older page (one
already closed after a crash) are dropped, so a dying page cannot move the
state of its replacement.

The signal handling itself (QR lifecycle, logout, conflict, recovery) lives in
`_session_flow.SessionFlow`; this module holds the plumbing and the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError

from app.config import Settings
from app.domain.events import EngineEvent, QrIssued, SessionHeartbeat, SessionStateChanged
from app.domain.models import SessionInfo
from app.domain.proxy import Proxy
from app.domain.states import Reason, SessionLifecycle, SessionState, is_restart
from app.engine.browser.signals import Crashed, PageSignal
from app.engine.browser.whatsapp_web import Sink
from app.engine.session.folder import SessionFolder
from app.engine.session.health import HealthPolicy
from app.engine.session.snapshot_budget import SnapshotBudget
from app.engine.session.warm_pool import PageSlot

log = logging.getLogger(__name__)
S = SessionState


class HostServices(Protocol):
    """What a session needs from its SessionHost."""

    settings: Settings
    instance_id: str
    provider_url: str
    policy: HealthPolicy
    snapshot_budget: SnapshotBudget

    def emit(self, event: EngineEvent) -> None: ...

    def now(self) -> datetime: ...

    async def open_slot(
        self,
        folder: SessionFolder,
        state: dict[str, Any] | None,
        sink: Sink,
        *,
        proxy: Proxy | None = None,
    ) -> PageSlot: ...

    async def open_window_slot(
        self, state: dict[str, Any] | None, sink: Sink, *, proxy: Proxy | None = None
    ) -> PageSlot: ...

    def take_pooled(self) -> PageSlot | None: ...


@dataclass
class Command:
    """An operator request, run by the worker between page signals."""

    run: Callable[[], Awaitable[Any]]
    done: asyncio.Future[Any] | None = None


@dataclass
class Record:
    """What the health grid shows about a session, beyond its state."""

    phone: str = ""
    platform: str = ""
    qr: str = ""
    qr_issued_at: datetime | None = None
    qr_expires_at: datetime | None = None
    qr_count: int = 0
    extraction_method: str = ""
    connected_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    heartbeat_latency_ms: float | None = None
    memory_bytes: int = 0
    restarts: int = 0
    updated_at: datetime | None = None
    history: list[str] = field(default_factory=list)


class SessionCore:
    """State, record, queue and tasks of one session (see module docstring)."""

    def __init__(
        self, host: HostServices, *, session_id: str, workspace_id: int, label: str
    ) -> None:
        self.host = host
        self.session_id = session_id
        self.workspace_id = workspace_id
        self.label = label
        self.folder = SessionFolder(host.settings.sessions_dir, workspace_id, session_id)
        self.lifecycle = SessionLifecycle()
        self.reason: Reason | None = None
        self.record = Record()
        self.slot: PageSlot | None = None
        self.gen = 0
        self.last_snapshot_at = 0.0
        self.disk_full_failures = 0  # snapshots refused in a row for lack of space
        self._queue: asyncio.Queue[tuple[int, PageSignal | Command]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._beater: asyncio.Task[None] | None = None
        self._hang_reported_gen = -1
        self._unanswered: tuple[int, int] = (-1, 0)  # (gen, pings timed out in a row)
        self.state_since = 0.0

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> SessionState:
        return self.lifecycle.state

    def move(self, target: SessionState, reason: Reason | None = None, detail: str = "") -> None:
        """Record a transition and emit it; a repeated state (e.g. qr -> qr) is silent."""
        previous = self.lifecycle.state
        if previous is target:
            return
        now = self.host.now()
        self.lifecycle.move(target, reason, now, detail)
        self.reason = reason
        if is_restart(previous, target):
            self.record.restarts += 1
        self.state_since = asyncio.get_running_loop().time()
        self.record.updated_at = now
        log.info("session %s: %s -> %s (%s) %s", self.session_id, previous, target, reason, detail)
        self.host.emit(
            SessionStateChanged(
                at=now,
                session_id=self.session_id,
                workspace_id=self.workspace_id,
                state=target,
                previous=previous,
                reason=reason,
                detail=detail,
                phone_number=self.record.phone,
                instance_id=self.host.instance_id,
            )
        )

    def info(self) -> SessionInfo:
        r = self.record
        waiting = self.state.waiting_for_scan
        return SessionInfo(
            session_id=self.session_id,
            workspace_id=self.workspace_id,
            label=self.label,
            state=self.state,
            reason=self.reason,
            phone_number=r.phone,
            instance_id=self.host.instance_id,
            connected_at=r.connected_at,
            last_heartbeat_at=r.last_heartbeat_at,
            heartbeat_latency_ms=r.heartbeat_latency_ms,
            qr=r.qr if waiting else "",
            qr_issued_at=r.qr_issued_at if waiting else None,
            qr_expires_at=r.qr_expires_at if waiting else None,
            qr_count=r.qr_count,
            restarts=r.restarts,
            memory_bytes=r.memory_bytes,
            extraction_method=r.extraction_method,
            updated_at=r.updated_at,
        )

    def last_qr_event(self, *, regeneration: bool = False) -> QrIssued | None:
        r = self.record
        if not r.qr or r.qr_issued_at is None or r.qr_expires_at is None:
            return None
        return QrIssued(
            at=r.qr_issued_at,
            session_id=self.session_id,
            workspace_id=self.workspace_id,
            qr=r.qr,
            expires_at=r.qr_expires_at,
            qr_count=r.qr_count,
            is_regeneration=regeneration,
            extraction_method=r.extraction_method,
            instance_id=self.host.instance_id,
        )

    # ------------------------------------------------------------------ tasks

    def sink_for(self, gen: int) -> Sink:
        def sink(signal: PageSignal) -> None:
            self._queue.put_nowait((gen, signal))

        return sink

    def start_tasks(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"session-{self.session_id}")
            self._beater = asyncio.create_task(self._beat(), name=f"heartbeat-{self.session_id}")

    async def cancel_tasks(self) -> None:
        tasks = [t for t in (self._worker, self._beater) if t is not None]
        self._worker = self._beater = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Operator requests still queued will never run: tell their callers.
        while not self._queue.empty():
            _gen, item = self._queue.get_nowait()
            if isinstance(item, Command) and item.done and not item.done.done():
                item.done.cancel()

    async def call(self, run: Callable[[], Awaitable[Any]], *, timeout: float) -> Any:
        """Run `run` on the worker (after signals queued before it) and return its result."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((self.gen, Command(run, done)))
        async with asyncio.timeout(timeout):
            return await done

    def post(self, run: Callable[[], Awaitable[Any]]) -> None:
        """Queue work for the worker without waiting for it (its errors are logged)."""
        self._queue.put_nowait((self.gen, Command(run)))

    async def handle(self, signal: PageSignal) -> None:  # overridden by SessionFlow
        raise NotImplementedError

    async def _work(self) -> None:
        while True:
            gen, item = await self._queue.get()
            if isinstance(item, Command):
                await self._run_command(item)
            elif gen == self.gen:
                try:
                    await self.handle(item)
                except Exception:
                    log.exception("session %s: handling %r failed", self.session_id, item)

    async def _run_command(self, cmd: Command) -> None:
        try:
            result = await cmd.run()
        except Exception as exc:  # handed to the caller
            if cmd.done is None:
                log.exception("session %s: background step failed", self.session_id)
            elif not cmd.done.done():
                cmd.done.set_exception(exc)
        else:
            if cmd.done is not None and not cmd.done.done():
                cmd.done.set_result(result)

    async def _beat(self) -> None:
        policy = self.host.policy
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(policy.interval)
            slot, gen = self.slot, self.gen
            if self._stuck_reconnecting(slot, loop.time()):
                self._hang_reported_gen = gen
                detail = "the page did not reconnect by itself; reopening it"
                self._queue.put_nowait((gen, Crashed(Reason.TIMEOUT, detail)))
                continue
            # A disconnected page is reconnecting by itself; pinging it proves nothing.
            if (
                slot is None
                or slot.closing
                or not self.state.running
                or self.state is S.DISCONNECTED
            ):
                continue
            try:
                latency, heap = await slot.page.ping(timeout=policy.timeout)
            except TimeoutError:
                if self._hung(gen) and gen == self.gen and self._hang_reported_gen != gen:
                    self._hang_reported_gen = gen
                    waited = policy.timeout * policy.hang_after
                    detail = f"the page did not answer its pings for {waited:.0f} s"
                    self._queue.put_nowait((gen, Crashed(Reason.TIMEOUT, detail)))
                continue
            except PlaywrightError:
                continue  # navigating or closed: the crash/close events tell the rest
            self._unanswered = (gen, 0)
            now = self.host.now()
            self.record.last_heartbeat_at = now
            self.record.heartbeat_latency_ms = latency
            self.record.memory_bytes = heap
            self.host.emit(
                SessionHeartbeat(
                    at=now,
                    session_id=self.session_id,
                    latency_ms=latency,
                    memory_bytes=heap,
                    instance_id=self.host.instance_id,
                )
            )
            due = loop.time() - self.last_snapshot_at >= self.snapshot_every()
            if (
                self.state is S.CONNECTED
                and due
                and self.host.snapshot_budget.may_start(loop.time())
            ):
                self.last_snapshot_at = loop.time()
                self.post(self.snapshot)

    def snapshot_every(self) -> float:
        """Seconds between snapshots: the policy's, stretched by the instance's snapshot
        budget when snapshots are expensive (snapshot_budget.py), or on a full disk a
        backoff from one heartbeat doubling per failed attempt up to that interval."""
        every = self.host.snapshot_budget.interval(self.host.policy.snapshot_interval)
        if self.disk_full_failures:
            backoff = self.host.policy.interval * 2 ** min(self.disk_full_failures - 1, 16)
            every = min(every, backoff)
        return every

    def _hung(self, gen: int) -> bool:
        """Count a ping that timed out; True once `hang_after` did in a row.

        One unanswered ping is not a hang on a saturated machine: a page that is
        restoring a heavy login (its models rebuilt from IndexedDB) or starved of a
        core can miss one. Reopening it then only adds the same work again (130
        real-weight sessions restored at once logged in 205 times before this rule
        and the restore gate, 130 times after: docs/BENCHMARKS.md). A hung page
        stays hung, so waiting one more timeout costs a real hang little."""
        last_gen, count = self._unanswered
        count = count + 1 if last_gen == gen else 1
        self._unanswered = (gen, count)
        return count >= self.host.policy.hang_after

    def _stuck_reconnecting(self, slot: PageSlot | None, now: float) -> bool:
        """A page left `disconnected(timeout)` (socket lost) for longer than the grace."""
        return (
            slot is not None
            and self.state is S.DISCONNECTED
            and self.reason is Reason.TIMEOUT
            and self._hang_reported_gen != self.gen
            and now - self.state_since > self.host.policy.reconnect_grace
        )

    async def snapshot(self) -> bool:  # overridden by SessionFlow
        raise NotImplementedError
