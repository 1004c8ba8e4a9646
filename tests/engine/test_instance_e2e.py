"""A real `pairdesk instance` process with real Chromium against the sandbox:
add -> QR over SSE -> test-phone scan -> connected -> SIGTERM -> start again ->
connected without a QR. Only processes this test started are ever signalled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer
from app.sandbox.central import CentralServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-instance-token"
SECRET = "e2e-webhook-secret"
WS = 7
SID = "webjs_7_1700000000_e2etest1"
PHONE = "6281200000001"
READY = re.compile(r"^instance: (http://\S+)$")


class InstanceRun:
    """One instance process in its own process group, plus every process it spawned."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.tree: dict[int, psutil.Process] = {}

    def remember_tree(self) -> None:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                self.tree[p.pid] = p

    def survivors(self) -> list[psutil.Process]:
        alive = []
        for p in self.tree.values():
            with contextlib.suppress(psutil.Error):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        return alive

    def kill_everything(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        for p in self.survivors():
            with contextlib.suppress(psutil.Error):
                p.kill()


async def start_instance(tmp_path: Path, sandbox_url: str, central_url: str) -> InstanceRun:
    env = {
        **os.environ,
        "PAIRDESK_INSTANCE_TOKEN": TOKEN,
        "PAIRDESK_WEBHOOK_SECRET": SECRET,
        "PAIRDESK_HEARTBEAT_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [
        sys.executable,
        "-m",
        "app",
        "instance",
        "--index",
        "0",
        "--provider-url",
        sandbox_url,
        "--central-url",
        central_url,
        "--database-url",
        f"sqlite:///{tmp_path / 'pairdesk.db'}",
        "--sessions-dir",
        str(tmp_path / "sessions"),
        "--data-dir",
        str(tmp_path / "data"),
        "--warm-pool",
        "0",
        "--time-scale",
        "0.2",
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(tmp_path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=open(tmp_path / "instance.log", "ab"),  # the child owns it
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(60):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    log = (tmp_path / "instance.log").read_text()[-3000:]
                    raise AssertionError(f"instance exited before it was ready:\n{log}")
                match = READY.match(line.strip())
                if match:
                    return InstanceRun(proc, match.group(1))
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise


@contextlib.asynccontextmanager
async def events(client: httpx.AsyncClient) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        async with client.stream("GET", "api/events", timeout=httpx.Timeout(10, read=None)) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    queue.put_nowait(json.loads(line[6:]))

    task = asyncio.create_task(pump())
    try:
        await asyncio.sleep(0.3)  # let the stream open before acting
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await task


async def next_event(queue: asyncio.Queue[dict[str, Any]], **match: Any) -> dict[str, Any]:
    while True:
        event = await queue.get()
        if all(event.get(k) == v for k, v in match.items()):
            return event


async def stop_instance(run: InstanceRun) -> int:
    run.remember_tree()
    run.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        code = await run.proc.wait()
    for _ in range(50):  # Chromium's helpers exit just after the browser
        if not run.survivors():
            break
        await asyncio.sleep(0.1)
    return code


async def test_instance_links_a_session_and_restores_it_after_sigterm(tmp_path: Path) -> None:
    options = SandboxOptions(time_scale=0.2, boot_delay=0.1)
    runs: list[InstanceRun] = []
    with SandboxServer(options) as sandbox, CentralServer(SECRET) as central:
        try:
            run = await start_instance(tmp_path, sandbox.url, central.url)
            runs.append(run)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with (
                httpx.AsyncClient(base_url=run.url, headers=headers, timeout=60) as client,
                AsyncTestPhone(sandbox.url) as phone,
                events(client) as queue,
            ):
                created = await client.post(
                    "api/sessions", json={"workspace_id": WS, "session_id": SID, "account_id": 1}
                )
                assert created.status_code == 201, created.text
                assert created.json()["status"] == "qr_scanning"
                async with asyncio.timeout(30):
                    qr = await next_event(queue, type="qr", session_id=SID)
                # The platform shows the QR it received by webhook; wait for it first.
                async with asyncio.timeout(10):
                    while not central.state.events(event="qr_code_generated", session_id=SID):
                        await asyncio.sleep(0.02)
                await phone.scan(qr["qr"], PHONE)
                async with asyncio.timeout(30):
                    await next_event(queue, type="state", session_id=SID, state="connected")
                status = (await client.get(f"api/sessions/{SID}/status")).json()
                assert status["status"] == "connected"
                assert status["phone_number"] == PHONE
                health = (await client.get("health")).json()
                assert health["sessions"]["connected"] == 1
                assert health["processes"] > 1  # Chromium is counted in the tree
            assert await stop_instance(run) == 0
            assert run.survivors() == [], "a process of the instance outlived it"

            run2 = await start_instance(tmp_path, sandbox.url, central.url)
            runs.append(run2)
            async with (
                httpx.AsyncClient(base_url=run2.url, headers=headers, timeout=60) as client,
                events(client) as queue,
            ):
                replayed = []
                async with asyncio.timeout(60):
                    while True:
                        status = (await client.get(f"api/sessions/{SID}/status")).json()
                        if status.get("status") == "connected":
                            break
                        await asyncio.sleep(0.2)
                while not queue.empty():
                    replayed.append(queue.get_nowait())
                assert not [e for e in replayed if e["type"] == "qr"]
                assert status["phone_number"] == PHONE
            assert await stop_instance(run2) == 0
            assert run2.survivors() == []

            async with AsyncTestPhone(sandbox.url) as phone:
                stats = await phone.stats()
            assert stats.get("conflicts_total", 0) == 0
            delivered = [e.event for e in central.state.events(session_id=SID)]
            assert "qr_code_generated" in delivered
            assert "session_ready" in delivered
            assert "session_disconnected" in delivered  # the SIGTERM, reason instance_restart
        finally:
            for r in runs:
                r.kill_everything()
