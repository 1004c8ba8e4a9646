"""Helpers of the tests that run the whole engine (real instances, real Chromium,
the embedded sandbox) (not a test module): settings, an event watcher that also
remembers every process of every instance tree, and a scan helper."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

from app.bootstrap import build_engine
from app.config import Settings
from app.domain.events import EngineEvent, QrIssued, SessionReady, SessionStateChanged
from app.domain.states import SessionState
from app.engine.control.engine import SupervisedEngine
from app.engine.supervisor.supervisor import SupervisorConfig
from app.sandbox import AsyncTestPhone, PhoneError

CONFIG = SupervisorConfig(
    instances=2,
    capacity=10,
    health_interval=0.5,
    health_timeout=5.0,
    backoff_initial=0.2,
    backoff_max=2.0,
    stop_grace=20.0,
)


def engine_settings(tmp_path: Path, **overrides: Any) -> Settings:
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
            **overrides,
        },
    )


class Watch:
    """Every event the engine publishes, plus every process of every instance tree."""

    def __init__(self, engine: SupervisedEngine) -> None:
        self.engine = engine
        self.events: list[EngineEvent] = []
        self.processes: dict[int, psutil.Process] = {}
        # Subscribed now, before the engine starts: a restore connects sessions while
        # `start()` still waits for its last instance, and a subscriber that came after
        # would never see those events.
        self._subscription = engine.subscribe()

    async def run(self) -> None:
        async for event in self._subscription:
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

    async def connected(
        self, session_ids: list[str], *, since: int, timeout: float = 180.0
    ) -> None:
        """Until every session has said `connected` at or after event index `since`."""
        waiting = set(session_ids)
        deadline = time.monotonic() + timeout
        index = since
        while waiting:
            for event in self.events[index:]:
                if _is_connected(event):
                    waiting.discard(getattr(event, "session_id", ""))
            index = len(self.events)
            if waiting and time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(waiting)} session(s) never connected: {sorted(waiting)}"
                )
            await asyncio.sleep(0.05)

    def qrs_since(self, mark: int, session_ids: list[str]) -> list[QrIssued]:
        wanted = set(session_ids)
        return [e for e in self.events[mark:] if isinstance(e, QrIssued) and e.session_id in wanted]

    def chromium_left(self) -> list[int]:
        """Chromium processes of any instance tree seen during the test that still run."""
        left = []
        for proc in self.processes.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    if "chrom" in proc.name().lower():
                        left.append(proc.pid)
        return left


def _is_connected(event: EngineEvent) -> bool:
    return isinstance(event, SessionReady) or (
        isinstance(event, SessionStateChanged) and event.state is SessionState.CONNECTED
    )


@contextlib.asynccontextmanager
async def engine_with_watch(
    tmp_path: Path, *, config: SupervisorConfig = CONFIG, **overrides: Any
) -> AsyncIterator[tuple[SupervisedEngine, Watch]]:
    engine = build_engine(engine_settings(tmp_path, **overrides), config=config)
    watch = Watch(engine)
    task = asyncio.create_task(watch.run())
    try:
        await engine.start()
        yield engine, watch
    finally:
        await engine.aclose()
        await task  # the subscription ends when the engine closes


async def scan(
    watch: Watch, phone: AsyncTestPhone, session_id: str, number: str, *, timeout: float = 120.0
) -> None:
    """Scan the session's newest QR; a QR that expired on the way is retried with the next."""
    deadline = time.monotonic() + timeout
    tried = ""
    while time.monotonic() < deadline:
        qrs = [e for e in watch.events if isinstance(e, QrIssued) and e.session_id == session_id]
        if not qrs or qrs[-1].qr == tried:
            await asyncio.sleep(0.05)  # no QR yet, or only the one that just failed
            continue
        tried = qrs[-1].qr
        try:
            await phone.scan(tried, number)
            return
        except PhoneError as exc:
            if exc.status not in (404, 410):
                raise
    raise AssertionError(f"could not scan a QR of {session_id}")
