"""Issue 10, items 1 and 6: `kill -9` of the supervisor, and secrets in children.

A real supervisor runs in a process of its own (tests/engine/supervisor_crash_driver.py)
with one instance and real Chromium against the sandbox; the test phone links a few
sessions. The secrets must be in no child's environment. Then the supervisor is
killed with SIGKILL: its instance and every Chromium end within seconds (the
lifeline on their stdin closes; they snapshot and exit), and a new supervisor on the
same data folder connects every session again without a QR and without a conflict.
Only processes this test started are signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.sandbox import AsyncTestPhone, PhoneError, SandboxOptions, SandboxServer
from app.sandbox.central import CentralServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

DRIVER = Path(__file__).with_name("supervisor_crash_driver.py")
SECRET = "crash-test-webhook-secret-0123456789"
N = 3


class Driver:
    """One run of the driver: its process, the lines it printed, every descendant seen."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.tree: dict[int, psutil.Process] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def remember_tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                self.tree.setdefault(p.pid, p)
        return list(self.tree.values())

    def alive(self) -> list[psutil.Process]:
        left = []
        for p in self.tree.values():
            with contextlib.suppress(psutil.Error):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
        return left

    async def until(self, what: str, check: Any, timeout: float = 180.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            index = 0
            while True:
                for event in self.events[index:]:
                    if check(event):
                        return event
                index = len(self.events)
                if self.proc.returncode is not None:
                    raise AssertionError(f"the driver exited while waiting for {what}")
                await asyncio.sleep(0.05)

    def connected(self) -> set[str]:
        return {
            e["session_id"]
            for e in self.events
            if e["type"] == "ready" or (e["type"] == "state" and e["state"] == "connected")
        }

    async def kill(self) -> None:
        self.remember_tree()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def kill_leftovers(self) -> None:
        for p in self.alive():
            with contextlib.suppress(psutil.Error):
                p.kill()


async def start_driver(tmp_path: Path, provider: str, central: str) -> Driver:
    log = open(tmp_path / "driver.log", "ab")  # noqa: SIM115 (the child owns it)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DRIVER),
        str(tmp_path),
        provider,
        central,
        SECRET,
        str(N),
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    log.close()
    return Driver(proc)


async def link_all(driver: Driver, phone: AsyncTestPhone, sids: list[str]) -> None:
    for n, sid in enumerate(sids):
        tried = ""
        while sid not in driver.connected():
            qrs = [e["qr"] for e in driver.events if e["type"] == "qr" and e["session_id"] == sid]
            if not qrs or qrs[-1] == tried:
                await asyncio.sleep(0.05)
                continue
            tried = qrs[-1]
            with contextlib.suppress(PhoneError):
                await phone.scan(tried, f"62812000001{n:02d}")
            await driver.until(
                f"{sid} connected or a new QR",
                lambda e, sid=sid, tried=tried: (
                    e.get("session_id") == sid
                    and (
                        e["type"] in ("ready",)
                        or e.get("state") == "connected"
                        or e["type"] == "qr"
                    )
                    and e.get("qr", "") != tried
                ),
            )


def environ_of(proc: psutil.Process) -> dict[str, str]:
    with contextlib.suppress(psutil.Error, OSError):
        return proc.environ()
    return {}


async def test_supervisor_kill_9_takes_the_fleet_down_and_the_next_restores_it(
    tmp_path: Path,
) -> None:
    options = SandboxOptions(time_scale=0.2, boot_delay=0.1)
    drivers: list[Driver] = []
    with SandboxServer(options) as sandbox, CentralServer(SECRET) as central:
        try:
            first = await start_driver(tmp_path, sandbox.url, central.url)
            drivers.append(first)
            await first.until("instances", lambda e: e["type"] == "instances", timeout=120)
            async with asyncio.timeout(120):
                while len({e["session_id"] for e in first.events if e["type"] == "qr"}) < N:
                    await asyncio.sleep(0.05)
            sids = sorted({e["session_id"] for e in first.events if e["type"] == "qr"})
            async with AsyncTestPhone(sandbox.url) as phone:
                await link_all(first, phone, sids)

            # Item 6: neither secret is in the environment of any child.
            tree = first.remember_tree()
            names = {p.pid: p.name() for p in tree}
            assert any("chrom" in n.lower() for n in names.values()), names
            assert any("node" in n.lower() or "pdeathsig" in n for n in names.values()), names
            for proc in tree:
                env = environ_of(proc)
                assert SECRET not in "\n".join(env.values()), names[proc.pid]
                assert not env.get("PAIRDESK_INSTANCE_TOKEN"), names[proc.pid]
                assert not env.get("PAIRDESK_WEBHOOK_SECRET"), names[proc.pid]

            # Item 1: kill -9 of the supervisor, and a new one at once (as an operator
            # reopening the console would): it waits for the folders the old instance
            # still holds while it snapshots on its way out.
            await first.kill()
            second = await start_driver(tmp_path, sandbox.url, central.url)
            drivers.append(second)
            async with asyncio.timeout(60):  # a guard: they end as soon as they snapshotted
                while left := first.alive():
                    await asyncio.sleep(0.1)
            assert not left
            async with asyncio.timeout(180):
                while not set(sids) <= second.connected():
                    assert second.proc.returncode is None, "the second supervisor exited"
                    await asyncio.sleep(0.1)
            assert not [e for e in second.events if e["type"] == "qr"]
            async with AsyncTestPhone(sandbox.url) as phone:
                stats = await phone.stats()
            assert stats.get("conflicts_total", 0) == 0
            second.remember_tree()
            await second.kill()
            async with asyncio.timeout(60):
                while second.alive():
                    await asyncio.sleep(0.1)
        finally:
            for d in drivers:
                if d.proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(d.proc.pid, signal.SIGKILL)
                d.kill_leftovers()
