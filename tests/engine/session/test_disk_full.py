"""Issue 10, item 2: a full sessions disk froze sessions in `starting`.

The full disk is injected at the one seam every session-folder write goes through
(`folder.write_bytes` raises ENOSPC), so no real full filesystem is needed. A
restored and a newly linked session both connect, run on their last good
snapshot with reason `disk_full` (and one SessionError saying so), retry with
backoff, and clear the reason by themselves once writes succeed again."""

from __future__ import annotations

import asyncio
import errno
import json
from pathlib import Path
from typing import BinaryIO

import pytest

from app.domain.events import SessionError, SessionReady
from app.domain.states import Reason, SessionState
from app.engine.session import folder as folder_module
from tests.engine.session_support import world

pytestmark = pytest.mark.e2e
S = SessionState


class Disk:
    """The seam: while `full`, every write into a session folder fails with ENOSPC."""

    def __init__(self) -> None:
        self.full = False
        self.refused = 0
        self._write = folder_module.write_bytes

    def __call__(self, fh: BinaryIO, data: bytes) -> None:
        if self.full:
            self.refused += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        self._write(fh, data)


async def until(check: object, what: str, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):  # a guard against hangs only
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_full_disk_sessions_run_on_and_recover_by_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk()
    monkeypatch.setattr(folder_module, "write_bytes", disk)
    async with world(tmp_path) as w:
        host = await w.host(snapshot_interval=600.0)  # only the disk-full backoff retries
        await w.connect(host, "old", "6281234567890")
        await host.stop_session("old")
        saved = tmp_path / "sessions" / "workspace_1" / "old" / "state.json"
        before = saved.read_bytes()

        disk.full = True
        mark = len(w.recorder.events)
        await host.start_session(session_id="old", workspace_id=1)
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "old", start=mark)
        assert ready.restored
        await w.connect(host, "new", "6289876543210")
        for sid in ("old", "new"):
            info = host.session(sid)
            assert info.state is S.CONNECTED and info.reason is Reason.DISK_FULL
        errors = [e for e in w.recorder.events[mark:] if isinstance(e, SessionError)]
        assert {e.session_id for e in errors} == {"old", "new"}
        assert all(e.error == "disk_full" and "Free some space" in e.message for e in errors)
        assert saved.read_bytes() == before  # the last good snapshot is untouched
        refused = disk.refused
        await until(lambda: disk.refused > refused + 2, "snapshots retried")
        assert len([e for e in w.recorder.events[mark:] if isinstance(e, SessionError)]) == 2

        disk.full = False  # space is back
        for sid in ("old", "new"):
            await until(lambda sid=sid: host.session(sid).reason is None, f"{sid} clear")
            assert host.session(sid).state is S.CONNECTED
        meta = json.loads((tmp_path / "sessions" / "workspace_1" / "new" / "meta.json").read_text())
        assert meta["linked"] is True and meta["phone"] == "6289876543210"
        assert (tmp_path / "sessions" / "workspace_1" / "new" / "state.json").is_file()
        # A restart now restores the new session from the snapshot saved after the disk freed.
        mark = len(w.recorder.events)
        await host.restart_session("new")
        again = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "new", start=mark)
        assert again.restored
