"""The whole engine with real instances and Chromium against the embedded sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from app.bootstrap import build_engine
from app.config import Settings
from app.domain.events import EngineEvent, QrIssued, SessionReady, SessionStateChanged
from app.domain.models import AccountSpec
from app.domain.states import SessionState
from app.engine._engine import SupervisedEngine
from app.engine._supervisor import SupervisorConfig
from app.sandbox import AsyncTestPhone, PhoneError

pytestmark = pytest.mark.e2e

CONFIG = SupervisorConfig(
    instances=2,
    capacity=10,
    health_interval=0.5,
    health_timeout=5.0,
    backoff_initial=0.2,
    backoff_max=2.0,
    stop_grace=20.0,
)


def _settings(tmp_path: Path) -> Settings:
    return Settings.load(
        environ={},
        cwd=tmp_path,
        flags={
            "data_dir": tmp_path / "data",
            "sessions_dir": tmp_path / "sessions",
            "instances": 2,
            "max_sessions": 10,
            "time_scale": 0.2,
            "warm_pool": 1,
        },
    )


class Watch:
    """Every event the engine publishes, plus every process of every instance tree."""

    def __init__(self, engine: SupervisedEngine) -> None:
        self.engine = engine
        self.events: list[EngineEvent] = []
        self.processes: dict[int, psutil.Process] = {}

    async def run(self) -> None:
        async for event in self.engine.subscribe():
            self.events.append(event)
            if event.type == "instance_load" and getattr(event, "pid", 0):
                self._remember(event.pid)  # type: ignore[attr-defined]

    def _remember(self, pid: int) -> None:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                self.processes.setdefault(proc.pid, proc)

    async def until(self, what: str, check: object, timeout: float = 120.0) -> EngineEvent:
        deadline = time.monotonic() + timeout
        start = 0
        while time.monotonic() < deadline:
            for event in self.events[start:]:
                if check(event):  # type: ignore[operator]
                    return event
            start = len(self.events)
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def engine_with_watch(tmp_path: Path) -> AsyncIterator[tuple[SupervisedEngine, Watch]]:
    engine = build_engine(_settings(tmp_path), config=CONFIG)
    await engine.start()
    watch = Watch(engine)
    task = asyncio.create_task(watch.run())
    try:
        yield engine, watch
    finally:
        await engine.aclose()
        await task  # the subscription ends when the engine closes


async def _scan(watch: Watch, phone: AsyncTestPhone, session_id: str, number: str) -> None:
    """Scan the session's newest QR; a QR that expired meanwhile is retried with the next."""
    for _ in range(10):
        qrs = [e for e in watch.events if isinstance(e, QrIssued) and e.session_id == session_id]
        if not qrs:
            await watch.until(
                "a QR", lambda e: isinstance(e, QrIssued) and e.session_id == session_id
            )
            continue
        try:
            await phone.scan(qrs[-1].qr, number)
            return
        except PhoneError:
            await asyncio.sleep(0.3)
    raise AssertionError(f"could not scan a QR of {session_id}")


async def test_add_scan_connect_then_survive_kill_9_and_restart_without_a_qr(
    tmp_path: Path,
) -> None:
    async with engine_with_watch(tmp_path) as (engine, watch):
        assert engine.runtime is not None
        phone = AsyncTestPhone(engine.runtime.provider_url)
        try:
            infos = await engine.add_accounts(
                [AccountSpec(workspace_id=11, label="one"), AccountSpec(workspace_id=12)]
            )
            for number, info in zip(("6281200000001", "6281200000002"), infos, strict=True):
                await _scan(watch, phone, info.session_id, number)
            for info in infos:
                ready = await watch.until(
                    "connected",
                    lambda e, sid=info.session_id: (
                        isinstance(e, SessionReady) and e.session_id == sid
                    ),
                )
                assert isinstance(ready, SessionReady) and ready.phone_number.startswith("62812")
            rows = {r.session_id: r for r in await engine.list_sessions()}
            assert all(rows[i.session_id].state is SessionState.CONNECTED for i in infos)

            victim = rows[infos[0].session_id].instance_id
            moved = [sid for sid, r in rows.items() if r.instance_id == victim]
            pid = next(i.pid for i in await engine.list_instances() if i.instance_id == victim)
            mark = len(watch.events)
            os.kill(pid, signal.SIGKILL)
            for sid in moved:
                await watch.until(
                    f"{sid} connected again",
                    lambda e, sid=sid: (
                        isinstance(e, SessionStateChanged | SessionReady)
                        and e.session_id == sid
                        and watch.events.index(e) >= mark
                        and (isinstance(e, SessionReady) or e.state is SessionState.CONNECTED)
                    ),
                    timeout=180,
                )
            after = watch.events[mark:]
            assert not any(isinstance(e, QrIssued) and e.session_id in moved for e in after)
            rows = {r.session_id: r for r in await engine.list_sessions()}
            assert all(rows[sid].state is SessionState.CONNECTED for sid in moved)
            info = next(i for i in await engine.list_instances() if i.instance_id == victim)
            assert info.alive and info.pid != pid and info.restarts >= 1

            # A graceful restart snapshots on SIGTERM: back again without a QR too.
            mark = len(watch.events)
            await engine.restart_instance(victim)
            for sid in moved:
                await watch.until(
                    f"{sid} connected after a graceful restart",
                    lambda e, sid=sid: (
                        isinstance(e, SessionStateChanged | SessionReady)
                        and e.session_id == sid
                        and watch.events.index(e) >= mark
                        and (isinstance(e, SessionReady) or e.state is SessionState.CONNECTED)
                    ),
                    timeout=180,
                )
            after = watch.events[mark:]
            assert not any(isinstance(e, QrIssued) and e.session_id in moved for e in after)
            stats = await phone.stats()
            assert stats["conflicts_total"] == 0
        finally:
            await phone.aclose()
    chromium_left = [
        p.pid for p in watch.processes.values() if p.is_running() and "chrom" in p.name().lower()
    ]
    assert chromium_left == []
