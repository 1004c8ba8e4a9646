"""The supervisor: keeps `instances` instance processes alive and reports on them.

Runs on the engine's asyncio loop. Each instance slot (index 0, 1, ...) has
one owned task that starts the process (random token, own process group),
then, while it lives, watches `/health`, samples its whole process tree every
second (-> `InstanceLoad`) and relays its `/api/events` stream. When the
process dies or stops answering, the slot restarts it with exponential
backoff and jitter; after `failover_after` failures in a row the `on_down`
hook lets the engine move the slot's sessions elsewhere. `aclose()` cancels
the slot tasks; each stops its process on the way out (SIGTERM, grace, then
SIGKILL of the group and of every process of its tree).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from app.domain.events import EngineEvent, InstanceLoad, utcnow
from app.domain.ids import instance_id_for
from app.domain.models import InstanceInfo
from app.engine.supervisor.client import InstanceClient, InstanceClientError
from app.engine.supervisor.process import InstanceProcess, InstanceStartError, LaunchSpec
from app.engine.supervisor.race import race
from app.engine.wire import Health

__all__ = ["Launcher", "Supervisor", "SupervisorConfig"]

log = logging.getLogger(__name__)

EventSink = Callable[[EngineEvent], None]
ReadyHook = Callable[[str, InstanceClient], Awaitable[None]]
DownHook = Callable[[str], Awaitable[None]]


class Launcher(Protocol):
    """Builds the command line of instance `index`; the token goes in its environment."""

    def spec(self, *, index: int, token: str) -> LaunchSpec: ...


@dataclass(frozen=True, kw_only=True)
class SupervisorConfig:
    instances: int = 2
    capacity: int = 50  # max_sessions per instance
    ready_timeout: float = 90.0
    health_interval: float = 2.0
    health_timeout: float = 5.0
    health_failures: int = 3  # missed health checks in a row before a live process counts as hung
    sample_interval: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stable_after: float = 60.0  # a run this long resets the backoff
    failover_after: int = 3  # failures in a row before the slot's sessions may move
    stop_grace: float = 30.0  # time to snapshot every session on SIGTERM before SIGKILL


class _Slot:
    def __init__(self, index: int) -> None:
        self.index = index
        self.instance_id = instance_id_for(index)
        self.process: InstanceProcess | None = None
        self.client: InstanceClient | None = None
        self.alive = False
        self.started_at: datetime | None = None
        self.restarts = 0
        self.failures = 0
        self.failed_over = False
        self.restart_history: deque[datetime] = deque(maxlen=50)
        self.logs: deque[str] = deque(maxlen=2000)  # output of every run, oldest first
        self.health = Health()  # the last answer of its /health
        self.cpu_percent = 0.0
        self.memory_bytes = 0
        self.last_error = ""
        self.restart_now = asyncio.Event()
        self.settled = asyncio.Event()  # the first start attempt finished, either way
        self.synced = asyncio.Event()  # its event stream is open and on_ready has run
        self.task: asyncio.Task[None] | None = None


class Supervisor:
    """Owns the instance processes. Build, `await start()`, ..., `await aclose()`."""

    def __init__(
        self,
        *,
        config: SupervisorConfig,
        launcher: Launcher,
        on_event: EventSink,
        on_ready: ReadyHook | None = None,
        on_down: DownHook | None = None,
        client_factory: Callable[..., InstanceClient] = InstanceClient,
    ) -> None:
        self._config = config
        self._launcher = launcher
        self._emit = on_event
        self._on_ready = on_ready
        self._on_down = on_down
        self._client_factory = client_factory
        self._slots: dict[str, _Slot] = {}
        self._closing = False

    # ------------------------------------------------------------- lifecycle

    async def start(self, *, wait: bool = True) -> None:
        """Start every slot; with `wait`, return once each has come up or failed once."""
        for index in range(self._config.instances):
            self._spawn_slot(index)
        if wait:
            await self._settle(list(self._slots.values()))

    async def aclose(self) -> None:
        self._closing = True
        tasks = [slot.task for slot in self._slots.values() if slot.task is not None]
        for task in tasks:
            task.cancel()
        # Each slot stops its own process while unwinding; wait for all of them.
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---------------------------------------------------------------- queries

    def instances(self) -> list[InstanceInfo]:
        return [self._info(slot) for slot in self._slots.values()]

    def info(self, instance_id: str) -> InstanceInfo | None:
        slot = self._slots.get(instance_id)
        return self._info(slot) if slot is not None else None

    def client(self, instance_id: str) -> InstanceClient | None:
        """The live instance's client, or None while it is down or restarting."""
        slot = self._slots.get(instance_id)
        return slot.client if slot is not None and slot.alive else None

    def index_of(self, instance_id: str) -> int | None:
        slot = self._slots.get(instance_id)
        return slot.index if slot is not None else None

    def live_capacities(self) -> dict[str, int]:
        return {s.instance_id: self._config.capacity for s in self._slots.values() if s.alive}

    def known_ids(self) -> list[str]:
        return list(self._slots)

    def failed_over(self, instance_id: str) -> bool:
        """True while the instance is down and its sessions were handed to others."""
        slot = self._slots.get(instance_id)
        return slot is not None and not slot.alive and slot.failed_over

    def last_error(self, instance_id: str) -> str:
        slot = self._slots.get(instance_id)
        return slot.last_error if slot is not None else ""

    def logs(self, instance_id: str) -> list[str]:
        slot = self._slots.get(instance_id)
        return list(slot.logs) if slot is not None else []

    # ---------------------------------------------------------------- actions

    async def restart_instance(self, instance_id: str) -> None:
        slot = self._slots.get(instance_id)
        if slot is None:
            raise KeyError(instance_id)
        slot.restart_now.set()

    async def add_instance(self, *, wait: bool = True) -> InstanceInfo:
        index = max((s.index for s in self._slots.values()), default=-1) + 1
        slot = self._spawn_slot(index)
        if wait:
            await self._settle([slot])
        return self._info(slot)

    # -------------------------------------------------------------- internals

    async def _settle(self, slots: list[_Slot]) -> None:
        """Wait for each first start; for those that came up, also for their first sync."""
        await asyncio.gather(*(slot.settled.wait() for slot in slots))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._config.health_timeout * 3):
                await asyncio.gather(*(s.synced.wait() for s in slots if s.alive))

    def _spawn_slot(self, index: int) -> _Slot:
        slot = _Slot(index)
        self._slots[slot.instance_id] = slot
        slot.task = asyncio.create_task(self._run_slot(slot), name=slot.instance_id)
        return slot

    async def _run_slot(self, slot: _Slot) -> None:
        cfg = self._config
        while not self._closing:
            started = time.monotonic()
            outcome = await self._run_once(slot)
            slot.settled.set()
            self._emit_load(slot)
            if self._closing:
                return
            slot.restarts += 1
            slot.restart_history.append(utcnow())
            if outcome == "restart":
                slot.failures = 0
                continue
            if time.monotonic() - started >= cfg.stable_after:
                slot.failures = 0
            slot.failures += 1
            if slot.failures >= cfg.failover_after and not slot.failed_over:
                slot.failed_over = True
                await self._hand_over(slot)
            delay = min(cfg.backoff_max, cfg.backoff_initial * 2 ** (slot.failures - 1))
            delay *= random.uniform(0.8, 1.2)
            log.warning("%s %s; restarting it in %.1f s", slot.instance_id, slot.last_error, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await slot.restart_now.wait()

    async def _run_once(self, slot: _Slot) -> str:
        """One life of the process: 'exited', 'hung', 'start_failed' or 'restart'."""
        slot.restart_now.clear()
        slot.synced.clear()
        token = secrets.token_urlsafe(32)
        process = InstanceProcess(
            name=slot.instance_id,
            spec=self._launcher.spec(index=slot.index, token=token),
            logs=slot.logs,
        )
        slot.process = process
        client: InstanceClient | None = None
        try:
            try:
                url = await process.start(timeout=self._config.ready_timeout)
            except (InstanceStartError, OSError) as exc:
                slot.last_error = f"could not start: {exc}"
                return "start_failed"
            client = self._client_factory(base_url=url, token=token, name=slot.instance_id)
            slot.client = client
            slot.alive = True
            slot.failed_over = False
            slot.started_at = utcnow()
            slot.settled.set()
            log.info("%s ready at %s (pid %d)", slot.instance_id, url, process.pid)
            outcome = await race(
                {
                    "exited": process.wait(),
                    "hung": self._watch_health(slot, client),
                    "restart": slot.restart_now.wait(),
                },
                background=[self._sample_loop(slot, process), self._relay_events(slot, client)],
            )
            slot.last_error = {
                "exited": f"exited with status {process.returncode}",
                "hung": "stopped answering its health check",
                "restart": "restart requested",
            }[outcome]
            return outcome
        finally:
            was_alive = slot.alive
            slot.alive = False
            slot.client = None
            if was_alive and not self._closing:
                self._emit_load(slot)  # tell the engine now, not after the stop below
            await process.stop(grace=self._config.stop_grace)
            if client is not None:
                await client.aclose()

    async def _hand_over(self, slot: _Slot) -> None:
        """Let the engine move the sessions of a slot that keeps failing."""
        if self._on_down is None:
            return
        try:
            await self._on_down(slot.instance_id)
        except Exception:  # the slot must keep restarting whatever the hook did
            log.exception("%s: moving its sessions elsewhere failed", slot.instance_id)

    def _publish(self, event: EngineEvent) -> None:
        try:
            self._emit(event)
        except Exception:  # a subscriber's bug must not take the instance down
            log.exception("an event handler failed on %s", event.type)

    async def _watch_health(self, slot: _Slot, client: InstanceClient) -> None:
        """Returns once the instance has missed `health_failures` checks in a row."""
        misses = 0
        interval = self._config.health_interval
        while misses < self._config.health_failures:
            await asyncio.sleep(interval)
            try:
                slot.health = await client.health(timeout=self._config.health_timeout)
                misses = 0
            except InstanceClientError as exc:
                misses += 1
                log.info("%s health check failed (%d): %s", slot.instance_id, misses, exc)

    async def _sample_loop(self, slot: _Slot, process: InstanceProcess) -> None:
        while True:
            sample = await asyncio.to_thread(process.sample)
            slot.cpu_percent = sample.cpu_percent
            slot.memory_bytes = sample.memory_bytes
            self._emit_load(slot)
            await asyncio.sleep(self._config.sample_interval)

    async def _relay_events(self, slot: _Slot, client: InstanceClient) -> None:
        opened = asyncio.Event()
        while True:
            opened.clear()
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._after_open(slot, client, opened))
                    async for event in client.events(on_open=opened.set):
                        self._publish(_tag(event, slot.instance_id))
                    raise _StreamEnded
            except* (InstanceClientError, _StreamEnded):
                pass
            await asyncio.sleep(0.5)

    async def _after_open(self, slot: _Slot, client: InstanceClient, opened: asyncio.Event) -> None:
        await opened.wait()
        try:
            if self._on_ready is not None:
                await self._on_ready(slot.instance_id, client)
        except InstanceClientError as exc:
            log.info(
                "%s: could not read its sessions after (re)connecting: %s", slot.instance_id, exc
            )
        finally:
            slot.synced.set()

    def _emit_load(self, slot: _Slot) -> None:
        info = self._info(slot)
        self._publish(
            InstanceLoad(
                instance_id=info.instance_id,
                url=slot.client.base_url if slot.client is not None else "",
                pid=info.pid,
                alive=info.alive,
                cpu_percent=info.cpu_percent,
                memory_bytes=info.memory_bytes,
                sessions_total=info.sessions_total,
                sessions_connected=info.sessions_connected,
                capacity=info.capacity,
                restarts=info.restarts,
                warm_ready=info.warm_ready,
                warm_target=info.warm_target,
            )
        )

    def _info(self, slot: _Slot) -> InstanceInfo:
        """The slot as the console shows it; a dead process reports no load."""
        alive = slot.alive
        health = slot.health if alive else Health()
        return InstanceInfo(
            instance_id=slot.instance_id,
            index=slot.index,
            url=slot.client.base_url if slot.client is not None and alive else "",
            pid=slot.process.pid if slot.process is not None and alive else 0,
            alive=alive,
            started_at=slot.started_at,
            restarts=slot.restarts,
            capacity=self._config.capacity,
            sessions_total=health.sessions_total,
            sessions_connected=health.sessions_connected,
            cpu_percent=slot.cpu_percent if alive else 0.0,
            memory_bytes=slot.memory_bytes if alive else 0,
            restart_history=tuple(slot.restart_history),
            last_error=slot.last_error,
            warm_ready=health.warm_ready,
            warm_target=health.warm_target,
        )


class _StreamEnded(Exception):
    """The instance closed its event stream (it is stopping); reconnect after a pause."""


def _tag(event: EngineEvent, instance_id: str) -> EngineEvent:
    """The supervisor's name for the instance wins over whatever the instance put there."""
    if getattr(event, "instance_id", instance_id) != instance_id:
        return replace(event, instance_id=instance_id)  # type: ignore[call-arg]
    return event
