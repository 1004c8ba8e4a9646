"""Restore does no work a restored page does not need: the saved login it was
opened from is not written back when it connects (the periodic snapshot takes
what changes later)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.events import QrIssued, SessionReady
from tests.engine.session_support import world

pytestmark = pytest.mark.e2e
PHONE = "6281234567890"


async def test_a_restored_login_is_not_written_back_on_connect(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        await host.aclose()
        state = tmp_path / "sessions" / "workspace_1" / "s1" / "state.json"
        before = state.stat()
        mark = len(w.recorder.events)
        again = await w.host()
        infos = await again.restore_sessions([("s1", 1, "s1")], stagger=0.0)
        assert not [i for i in infos if isinstance(i, BaseException)]
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, QrIssued)]
        after = state.stat()
        # atomic_write replaces the file: a write back would show a new inode / mtime.
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        # The session is still linked: a snapshot on stop writes what changed, if anything.
        await again.stop_session("s1")
        assert state.is_file()
