"""Issue 10, item 11: `kill -9` of an instance left `playwright_chromiumdev_profile-*`
folders in the temp folder (and item 6 for an instance run by hand: its children
inherit no `PAIRDESK_*` variable). The next instance removes what dead runs left (and
only that: a live instance's folder is kept). TMPDIR points at a folder of the
test, so only this test's leftovers are looked at."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import httpx
import psutil
import pytest

from app.sandbox import SandboxOptions, SandboxServer
from app.sandbox.central import CentralServer
from tests.engine.test_instance_e2e import SECRET, TOKEN, WS, InstanceRun, start_instance

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SID = "webjs_7_1700000000_leftover"


def profiles(tmp: Path) -> list[Path]:
    return sorted(tmp.rglob("playwright_chromiumdev_profile-*"))


async def add_session(run: InstanceRun, sid: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=run.url, headers=headers, timeout=60) as client:
        created = await client.post("api/sessions", json={"workspace_id": WS, "session_id": sid})
        assert created.status_code == 201, created.text


async def test_the_next_instance_removes_what_a_killed_one_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short: Chromium's singleton socket path must fit in 107 bytes (scratch.py).
    tmp = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))
    for name in "abc":
        (tmp_path / name).mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # inherited by the instances only
    runs: list[InstanceRun] = []
    with SandboxServer(SandboxOptions(time_scale=0.2)) as sandbox, CentralServer(SECRET) as c:
        try:
            first = await start_instance(tmp_path / "a", sandbox.url, c.url)
            runs.append(first)
            await add_session(first, SID)
            async with asyncio.timeout(60):
                while not profiles(tmp):  # the browser is up
                    await asyncio.sleep(0.1)
            first.remember_tree()
            # Item 6, by hand or systemd (no --supervised): the secrets came in the
            # instance's environment, and none of its children inherited them.
            children = [p for pid, p in first.tree.items() if pid != first.proc.pid]
            assert children
            for child in children:
                with contextlib.suppress(psutil.Error):
                    env = child.environ()
                    assert not [k for k in env if k.startswith("PAIRDESK_")], child.name()
                    assert TOKEN not in "\n".join(env.values())
            os.kill(first.proc.pid, signal.SIGKILL)
            await first.proc.wait()
            async with asyncio.timeout(30):  # the kernel ends the driver and Chromium
                while first.survivors():
                    await asyncio.sleep(0.1)
            left = profiles(tmp)
            assert left, "a kill -9 leaves the profile folder (the reproduction)"

            second = await start_instance(tmp_path / "b", sandbox.url, c.url)
            runs.append(second)
            assert not [p for p in left if p.exists()]
            await add_session(second, SID.replace("leftover", "leftove2"))
            async with asyncio.timeout(60):
                while not profiles(tmp):
                    await asyncio.sleep(0.1)
            live = profiles(tmp)
            # A third instance next to the live second one keeps the second's folder.
            third = await start_instance(tmp_path / "c", sandbox.url, c.url)
            runs.append(third)
            assert all(p.exists() for p in live)
        finally:
            for r in runs:
                r.remember_tree()
                r.kill_everything()
                with contextlib.suppress(ProcessLookupError):
                    await r.proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)
