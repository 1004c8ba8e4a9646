"""Drive the real engine (supervisor + instance processes) for a scenario.

`running_engine(settings)` starts it, subscribes before anything happens and
keeps a pump task that records, per session, when its first QR and its
`connected` arrived at the supervisor (perf_counter, this process), the
latest QR string, and every heartbeat latency. Scenarios wait on those
records instead of reading the event stream themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import psutil

from app.bench._harness import Skip, pss_of
from app.config import Settings
from app.domain.events import EngineEvent
from app.engine.api import Engine

__all__ = ["EngineRun", "running_engine", "tree_cpu_percent"]


@dataclass
class _Track:
    qr_at: float = 0.0
    ready_at: float = 0.0
    qr: str = ""
    qr_events: int = 0
    restored: bool = False
    state: str = ""  # the last state the stream announced
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class EngineRun:
    """A started engine plus what its event stream said, per session."""

    def __init__(self, engine: Engine, subscription: AsyncIterator[EngineEvent]) -> None:
        self.engine = engine
        self._sub = subscription
        self.tracks: dict[str, _Track] = defaultdict(_Track)
        self.qr_events: list[Any] = []
        self.qr_arrived: dict[tuple[str, int], float] = {}  # (session, qr_count) -> unix time
        self.heartbeats: list[tuple[float, float]] = []  # (perf_counter, latency_ms)
        self.errors: list[str] = []
        self.lost: Counter[str] = Counter()  # disconnects announced, by reason

    def states(self, sids: list[str]) -> Counter[str]:
        """How many of `sids` are in each announced state (unheard: "no event")."""
        return Counter(self.tracks[sid].state or "no event" for sid in sids)

    async def pump(self) -> None:
        from app.domain.events import QrIssued, SessionError, SessionHeartbeat, SessionReady
        from app.domain.events import SessionStateChanged as Changed
        from app.domain.states import SessionState

        async for event in self._sub:
            now = time.perf_counter()
            sid = getattr(event, "session_id", "")
            if isinstance(event, Changed):
                self.tracks[sid].state = event.state.value
                if event.state is SessionState.DISCONNECTED:
                    self.lost[event.reason.value if event.reason else "unknown"] += 1
            if isinstance(event, QrIssued):
                track = self.tracks[sid]
                track.qr_at = track.qr_at or now
                track.qr = event.qr
                track.qr_events += 1
                self.qr_events.append(event)
                self.qr_arrived[(sid, event.qr_count)] = time.time()
            elif isinstance(event, SessionReady) or (
                isinstance(event, Changed) and event.state is SessionState.CONNECTED
            ):
                track = self.tracks[sid]
                track.ready_at = track.ready_at or now
                track.restored = track.restored or bool(getattr(event, "restored", False))
            elif isinstance(event, SessionHeartbeat):
                self.heartbeats.append((now, event.latency_ms))
                continue
            elif isinstance(event, SessionError):
                self.errors.append(f"{sid}: {event.error}: {event.message}")
            else:
                continue
            self.tracks[sid].changed.set()

    async def _until(self, sid: str, attr: str, timeout: float) -> float:
        track = self.tracks[sid]
        async with asyncio.timeout(timeout):
            while not getattr(track, attr):
                track.changed.clear()
                await track.changed.wait()
        return float(getattr(track, attr))

    async def wait_qr(self, sid: str, timeout: float = 60.0) -> float:
        return await self._until(sid, "qr_at", timeout)

    async def wait_ready(self, sid: str, timeout: float = 120.0) -> float:
        return await self._until(sid, "ready_at", timeout)

    async def add(self, count: int, workspace_id: int = 7, label: str = "bench") -> list[str]:
        from app.engine.api import AccountSpec

        specs = [AccountSpec(workspace_id=workspace_id, label=f"{label}-{i}") for i in range(count)]
        infos = await self.engine.add_accounts(specs)
        return [info.session_id for info in infos]

    async def connect(self, sids: list[str], phone: Any, first_number: int) -> None:
        """Scan each session's current QR with the test phone; wait until all are connected."""

        async def one(i: int, sid: str) -> None:
            from app.bench._baseline import phone_number

            for _attempt in range(3):
                await self.wait_qr(sid)
                try:
                    await phone.scan(self.tracks[sid].qr, phone_number(first_number + i))
                    break
                except Exception:  # the ref rotated under us: scan the next one
                    await asyncio.sleep(0.5)
            await self.wait_ready(sid)

        async with asyncio.TaskGroup() as group:
            for i, sid in enumerate(sids):
                group.create_task(one(i, sid))

    async def instance_pids(self) -> list[int]:
        return [i.pid for i in await self.engine.list_instances() if i.alive and i.pid]

    async def pss(self) -> dict[str, int]:
        """PSS of every instance's whole process tree (Python, driver, Chromium), summed."""
        pids = await self.instance_pids()
        return await asyncio.to_thread(_trees_pss, pids)


def _trees_pss(pids: list[int]) -> dict[str, int]:
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
    pss, count = pss_of(procs)
    return {"pss_bytes": pss, "processes": count, "instances": len(pids)}


def tree_cpu_percent(pids: list[int], seconds: float) -> float:
    """CPU% (100 = one core) of these process trees over `seconds` (blocking)."""

    def cpu_time() -> dict[tuple[int, float], float]:
        out: dict[tuple[int, float], float] = {}
        for pid in pids:
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                    out[(p.pid, p.create_time())] = t.user + t.system
                except psutil.Error:
                    continue
        return out

    before = cpu_time()
    time.sleep(seconds)
    after = cpu_time()
    used = sum(v - before.get(k, 0.0) for k, v in after.items())
    return round(100.0 * used / seconds, 1)


@contextlib.asynccontextmanager
async def running_engine(
    settings: Settings, *, start_timeout: float = 120.0
) -> AsyncIterator[EngineRun]:
    """The real engine for `settings`, started, subscribed and pumped; closed on exit."""
    try:
        from app.bootstrap import open_engine
    except ImportError as exc:
        raise Skip(f"the engine's public API is not available yet: {exc}") from None
    engine: Engine = open_engine(settings)
    run = EngineRun(engine, engine.subscribe())  # before start: a restore's events count too
    try:
        async with asyncio.TaskGroup() as group:
            pump = group.create_task(run.pump(), name="bench-engine-pump")
            try:
                async with asyncio.timeout(start_timeout):
                    await engine.start()
                yield run
            finally:
                pump.cancel()
    finally:
        async with asyncio.timeout(120):
            await engine.aclose()
