"""One shard instance: a SessionHost, its event recorder, its session operations
(`sessions`, what the HTTP API offers) and what it reports about itself.

Every event the host emits goes, in order, to three places: the live
listeners of `/api/events`, the counters of `/metrics`, and the store (state,
timeline and outbox rows in one transaction, see `_instance_store`). On start
the instance migrates the store, registers itself and reopens the sessions
assigned to it that have a login to restore; on `aclose` it snapshots and
closes every session through the host and marks itself stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from app.config import Settings
from app.domain.events import (
    EngineEvent,
    QrIssued,
    SessionError,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
    utcnow,
)
from app.domain.ids import instance_id_for
from app.domain.models import SessionInfo
from app.domain.outbox import OutboxItem
from app.domain.states import Reason, SessionState
from app.engine.errors import InstanceError, SessionLocked
from app.engine.instance.hub import EventHub
from app.engine.instance.load import Counters, ProcessTreeSampler, TreeLoad, render_metrics
from app.engine.instance.recorder import EventRecorder
from app.engine.instance.restore_gate import RestoreGate
from app.engine.instance.sessions import SessionHostLike, SessionOperations
from app.engine.instance.store import InstanceStore, should_restore
from app.engine.session.folder import seal_clear_snapshots
from app.engine.wire import Health

log = logging.getLogger(__name__)

# How long a restore waits for a session folder locked by an instance on its way out
# (more than the supervisor's stop grace, the longest such an exit may take).
RESTORE_LOCK_WAIT = 90.0

LOAD_INTERVAL = 2.0


HostFactory = Callable[[Callable[[EngineEvent], None]], SessionHostLike]


class Instance:
    """Owns the host, the recorder and the background tasks of one instance process."""

    def __init__(
        self,
        *,
        settings: Settings,
        index: int,
        token: str,
        host_factory: HostFactory,
        store: InstanceStore,
        instance_id: str = "",
        url: str = "",
        restore_gap: float = 0.0,
        clock: Callable[[], datetime] = utcnow,
        sampler: ProcessTreeSampler | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.instance_id = instance_id or instance_id_for(index)
        self.url = url
        self._token = token
        self._clock = clock
        self._store = store
        self._hub = EventHub()
        self._counters = Counters()
        self._recorder = EventRecorder(
            store=store,
            instance_id=self.instance_id,
            counters=self._counters,
            on_recorded=self._on_recorded,
        )
        self._delivery_hook: Callable[[Sequence[OutboxItem]], None] | None = None
        self._owned: set[str] = set()
        self._host = host_factory(self._on_event)
        self._ops = SessionOperations(
            settings=settings,
            instance_id=self.instance_id,
            host=self._host,
            store=store,
            hub=self._hub,
            recorder=self._recorder,
            emit=self._on_event,
            status=lambda: self._status,
            owned=self._owned,
        )
        self._sampler = sampler or ProcessTreeSampler()
        self._restore_gap = restore_gap
        self._started_monotonic = time.monotonic()
        self._status = "starting"
        self._tasks: list[asyncio.Task[None]] = []
        self._restoring = 0

    # ---------------------------------------------------------------- identity

    @property
    def token(self) -> str:
        return self._token

    @property
    def hub(self) -> EventHub:
        return self._hub

    @property
    def capacity(self) -> int:
        return self.settings.max_sessions

    @property
    def sessions(self) -> SessionOperations:
        """The session operations the HTTP API offers (start, stop, restart, ...)."""
        return self._ops

    # --------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Migrate and register, start the host, then restore sessions in the background."""
        await asyncio.to_thread(
            self._store.prepare,
            instance_id=self.instance_id,
            index=self.index,
            url=self.url,
            pid=os.getpid(),
            capacity=self.capacity,
        )
        self._recorder.start()
        # Snapshots from before encryption at rest are sealed before anything reads them.
        sealed = await asyncio.to_thread(seal_clear_snapshots, Path(self.settings.sessions_dir))
        if sealed:
            log.info("%s: encrypted %d saved login(s) written in clear", self.instance_id, sealed)
        assigned = await asyncio.to_thread(self._store.assigned, self.instance_id)
        self._owned.update(info.session_id for info in assigned)
        sessions_dir = Path(self.settings.sessions_dir)
        to_restore = [info for info in assigned if should_restore(info, sessions_dir)]
        for info in assigned:
            if info.state is not SessionState.STOPPED:
                # Nothing runs yet: whatever the store says was cut off by the last exit.
                self._ops.synthesize(
                    info, SessionState.STOPPED, "instance restarted", Reason.INSTANCE_RESTART
                )
        await self._host.start()
        self._tasks.append(asyncio.create_task(self._restore(to_restore), name="restore"))
        self._tasks.append(asyncio.create_task(self._report_load(), name="load"))
        self._status = "ok"

    async def aclose(self) -> None:
        """Snapshot and close every session, record the last events, end the streams."""
        if self._status == "stopped":
            return
        self._status = "stopping"
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        try:
            await self._host.aclose()
        finally:
            await self._recorder.aclose()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._store.mark_stopped, self.instance_id)
            self._hub.close()
            self._status = "stopped"

    def set_delivery_hook(self, hook: Callable[[Sequence[OutboxItem]], None] | None) -> None:
        """Called after new events (and so outbox rows) were committed: the deliverer's notify.

        It is given the committed rows that were their session's oldest pending row."""
        self._delivery_hook = hook

    def _on_recorded(self, items: Sequence[OutboxItem] = ()) -> None:
        if self._delivery_hook is not None:
            self._delivery_hook(items)

    def owns_session(self, session_id: str) -> bool:
        """Whether this instance delivers the session's webhooks (it is assigned here)."""
        return session_id in self._owned

    def owned_sessions(self) -> frozenset[str]:
        """The sessions whose webhooks this instance delivers."""
        return frozenset(self._owned)

    async def drop_session(self, session_id: str) -> None:
        """Close a session's page and stop delivering its webhooks: it is no longer this
        instance's (fleet mode: its lease was lost or handed over, docs/FLEET.md)."""
        self._owned.discard(session_id)
        if any(info.session_id == session_id for info in self._host.sessions()):
            await self._host.stop_session(session_id, reason=Reason.INSTANCE_RESTART)

    async def flush(self) -> None:
        """Wait until every event emitted so far is in the store."""
        await self._recorder.flush()

    async def outbox_pending(self) -> int:
        metrics = await asyncio.to_thread(self._store.delivery_metrics)
        return metrics.pending if metrics is not None else 0

    def set_url(self, url: str) -> None:
        """The URL the server listens on, once bound (before `start` registers it)."""
        self.url = url

    async def _restore(self, infos: list[SessionInfo]) -> None:
        if not infos:
            return
        log.info("restoring %d session(s) assigned to %s", len(infos), self.instance_id)
        self._restoring = len(infos)
        gate = RestoreGate(
            self.settings.effective_start_concurrency, self.settings.restore_concurrency
        )

        async def one(info: SessionInfo) -> None:
            async with gate:
                try:
                    await self._restore_one(info.session_id)
                except InstanceError as exc:
                    log.warning("could not restore %s: %s", info.session_id, exc.message)
                finally:
                    self._restoring -= 1

        async with asyncio.TaskGroup() as group:
            for info in infos:
                group.create_task(one(info))
                if self._restore_gap:
                    await asyncio.sleep(self._restore_gap)

    async def _restore_one(self, session_id: str) -> None:
        """Start one session, waiting while its folder is locked: after the supervisor
        died, the instance that ran it may still be snapshotting it on its way out
        (docs/SECURITY.md, "Supervisor crash"); it releases the lock when it exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESTORE_LOCK_WAIT
        delay = 0.25
        while True:
            try:
                await self._ops.start_session(session_id)
                return
            except SessionLocked:
                if loop.time() + delay > deadline:
                    raise
                log.info("%s is still locked by an exiting instance; retrying", session_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _report_load(self) -> None:
        while True:
            load = await asyncio.to_thread(self._sampler.sample)
            live = self._ops.live()
            try:
                await asyncio.to_thread(
                    self._store.report_load,
                    self.instance_id,
                    url=self.url,
                    cpu_percent=load.cpu_percent,
                    memory_bytes=load.memory_bytes,
                    sessions_total=len(live),
                    sessions_connected=sum(
                        1 for i in live.values() if i.state is SessionState.CONNECTED
                    ),
                )
            except Exception as exc:  # a busy database must not stop the sampling
                log.warning("could not record the instance's load: %s", exc)
            await asyncio.sleep(LOAD_INTERVAL)

    # ------------------------------------------------------------------ events

    def _on_event(self, event: EngineEvent) -> None:
        """The host's `emit`: synchronous, on the loop, in the order things happened."""
        if isinstance(event, SessionStateChanged):
            self._counters.transitions[event.state.value] += 1
            if event.is_restart:
                self._counters.restarts += 1
            if not event.instance_id:
                event = dataclasses.replace(event, instance_id=self.instance_id)
        elif isinstance(event, QrIssued):
            self._counters.qr_issued += 1
        elif isinstance(event, SessionError):
            self._counters.errors += 1
        elif isinstance(event, SessionHeartbeat):
            self._counters.heartbeat(event.latency_ms)
        elif isinstance(event, SessionReady):
            pass
        self._hub.publish(event)
        self._recorder.submit(event, shutting_down=self._status == "stopping")

    # -------------------------------------------------------------- reporting

    def _load(self) -> TreeLoad:
        return self._sampler.last

    async def health(self) -> Health:
        live = list(self._host.sessions())
        load = self._load()
        warm_ready, warm_target = self._host.warm_status()
        return Health(
            status=self._status,
            instance_id=self.instance_id,
            index=self.index,
            pid=os.getpid(),
            uptime=time.monotonic() - self._started_monotonic,
            sessions_total=len(live),
            sessions_connected=sum(1 for i in live if i.state is SessionState.CONNECTED),
            sessions_waiting=sum(1 for i in live if i.state.waiting_for_scan),
            sessions_restoring=max(0, self._restoring),
            capacity=self.capacity,
            memory_used_mb=load.memory_bytes / (1024 * 1024),
            memory_total_mb=load.system_memory_bytes / (1024 * 1024),
            cpu_percent=load.cpu_percent,
            processes=load.processes,
            listeners=self._hub.listener_count,
            warm_ready=warm_ready,
            warm_target=warm_target,
        )

    async def metrics(self) -> str:
        outbox = await asyncio.to_thread(self._store.delivery_metrics)
        return render_metrics(
            instance_id=self.instance_id,
            sessions=self._host.sessions(),
            counters=self._counters,
            load=self._load(),
            uptime=time.monotonic() - self._started_monotonic,
            capacity=self.capacity,
            listeners=self._hub.listener_count,
            outbox=outbox,
        )
