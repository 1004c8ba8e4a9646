"""Helpers of the SessionHost tests (not a test module): an event recorder that
waits for conditions instead of sleeping, a sandbox + host factory, and a scan
helper that retries when the QR it scanned had just expired."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from app.config import Settings
from app.domain.events import EngineEvent, QrIssued, SessionReady, SessionStateChanged
from app.domain.states import SessionState
from app.engine.browser.launch import BrowserLauncher
from app.engine.session.host import SessionHost
from app.sandbox import AsyncTestPhone, PhoneError, SandboxOptions, SandboxServer

E = TypeVar("E", bound=EngineEvent)
WAIT = 90.0  # generous: the shared 2-core machine can be slow; never a timing assert


class Recorder:
    """Collects every event; `wait_for` returns the first match from `start` on."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self._signal = asyncio.Event()

    def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)
        self._signal.set()

    async def wait_for(
        self,
        kind: type[E],
        pred: Callable[[E], bool] = lambda _e: True,
        *,
        start: int = 0,
        timeout: float = WAIT,
    ) -> E:
        index = start
        async with asyncio.timeout(timeout):
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if isinstance(event, kind) and pred(event):
                        return event
                self._signal.clear()
                await self._signal.wait()

    async def wait_state(
        self, session_id: str, state: SessionState, *, start: int = 0, timeout: float = WAIT
    ) -> SessionStateChanged:
        return await self.wait_for(
            SessionStateChanged,
            lambda e: e.session_id == session_id and e.state is state,
            start=start,
            timeout=timeout,
        )

    def of(self, kind: type[E], session_id: str | None = None) -> list[E]:
        return [
            e
            for e in self.events
            if isinstance(e, kind)
            and (session_id is None or getattr(e, "session_id", None) == session_id)
        ]

    def states(self, session_id: str) -> list[SessionState]:
        return [e.state for e in self.of(SessionStateChanged, session_id)]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        sessions_dir=tmp_path / "sessions",
        data_dir=tmp_path / "data",
        warm_pool=0,
        time_scale=0.05,
        heartbeat_interval=0.5,
        retry_budget=3,
        qr_limit=2,
        start_concurrency=2,
    )
    values.update(overrides)
    return Settings(**values)


@dataclass
class World:
    """A sandbox, its test phone and the hosts a test made (closed at teardown)."""

    sandbox: SandboxServer
    phone: AsyncTestPhone
    tmp_path: Path
    recorder: Recorder = field(default_factory=Recorder)
    hosts: list[SessionHost] = field(default_factory=list)
    conflicts_expected: bool = False  # a test that provokes a conflict says so

    async def host(
        self,
        *,
        recorder: Recorder | None = None,
        heartbeat_timeout: float | None = None,
        snapshot_interval: float = 2.0,
        boot_timeout: float = 60.0,
        reconnect_grace: float | None = None,
        provider_url: str = "",
        launcher: Callable[[Settings], BrowserLauncher] | None = None,
        **overrides: Any,
    ) -> SessionHost:
        settings = make_settings(self.tmp_path, **overrides)
        host = SessionHost(
            settings=settings,
            instance_id=f"test-{len(self.hosts)}",
            provider_url=provider_url or self.sandbox.url,
            launcher=launcher(settings) if launcher is not None else None,
            emit=recorder or self.recorder,
            heartbeat_timeout=heartbeat_timeout,
            snapshot_interval=snapshot_interval,
            boot_timeout=boot_timeout,
            reconnect_grace=reconnect_grace,
        )
        self.hosts.append(host)
        await host.start()
        return host

    async def scan(self, session_id: str, phone: str, *, start: int = 0) -> None:
        """Scan the session's newest QR; a QR that expired on the way is retried."""
        index = start
        for _ in range(10):
            qr = await self.recorder.wait_for(
                QrIssued, lambda e: e.session_id == session_id, start=index
            )
            index = self.recorder.events.index(qr) + 1
            newer = [e for e in self.recorder.of(QrIssued, session_id)][-1]
            try:
                await self.phone.scan(newer.qr, phone)
                return
            except PhoneError as exc:
                if exc.status != 410:
                    raise
        raise AssertionError("no QR could be scanned in time")

    async def connect(
        self, host: SessionHost, session_id: str, phone: str, ws: int = 1
    ) -> SessionReady:
        start = len(self.recorder.events)
        await host.start_session(session_id=session_id, workspace_id=ws, label=session_id)
        await self.scan(session_id, phone, start=start)
        return await self.recorder.wait_for(
            SessionReady, lambda e: e.session_id == session_id, start=start
        )


@contextlib.asynccontextmanager
async def world(tmp_path: Path, **options: Any) -> AsyncIterator[World]:
    opts = dict(time_scale=0.05, boot_delay=0.05)
    opts.update(options)
    async with SandboxServer(SandboxOptions(**opts)) as sandbox:
        phone = AsyncTestPhone(sandbox.url)
        w = World(sandbox=sandbox, phone=phone, tmp_path=tmp_path)
        try:
            yield w
            if not w.conflicts_expected:
                stats = await phone.stats()
                assert stats["conflicts_total"] == 0, "two pages fought over an account"
        finally:
            for host in w.hosts:
                await host.aclose()
            await phone.aclose()
    # Every Chromium this test started is gone once its hosts are closed.
    procs = [psutil.Process(pid) for pid in chromium_pids()]
    _gone, alive = await asyncio.to_thread(psutil.wait_procs, procs, 30)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def chromium_pids() -> set[int]:
    """Chromium processes under this test process (only pids this run started)."""
    out: set[int] = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "chrom" in child.name() or "headless" in child.name():
                out.add(child.pid)
    return out
