"""The warm pool (a QR at once on "add account"), profile isolation mode, and
adopting a whatsapp-web.js LocalAuth folder."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from app.domain.events import QrIssued, SessionReady
from app.domain.states import SessionState
from app.engine.session.folder import adopt_localauth
from tests.engine.session_support import world

pytestmark = pytest.mark.e2e
S = SessionState
PHONE = "6281234567890"


async def test_warm_pool_qr_is_emitted_on_open_and_the_pool_refills(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host(warm_pool=2)
        assert host.pool is not None
        await host.pool.wait_ready(timeout=90)
        assert host.warm_status() == (2, 2)
        started = time.perf_counter()
        await host.start_session(session_id="s1", workspace_id=1)
        elapsed = time.perf_counter() - started
        # The QR is already out when start_session returns: nothing to wait for.
        qrs = w.recorder.of(QrIssued, "s1")
        assert len(qrs) == 1 and qrs[0].qr_count == 1
        print(f"\nwarm add->QR {1000 * elapsed:.1f} ms")
        await w.scan("s1", PHONE)
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1")
        assert ready.phone_number == PHONE
        await host.pool.wait_ready(timeout=90)
        assert host.pool.created == 3, "the page taken was replaced"
        # A session with a snapshot never takes a pooled login page.
        await host.stop_session("s1")
        await host.start_session(session_id="s1", workspace_id=1)
        assert host.pool.ready_count == 2
        restored = await w.recorder.wait_for(
            SessionReady, lambda e: e.session_id == "s1" and e.restored
        )
        assert restored.phone_number == PHONE


async def test_profile_mode_opens_restores_and_adopts_localauth(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host(isolation="profile")
        await w.connect(host, "s1", PHONE)
        profile = tmp_path / "sessions" / "workspace_1" / "s1" / "profile"
        assert (profile / "Default").is_dir()
        await host.stop_session("s1")
        mark = len(w.recorder.events)
        await host.start_session(session_id="s1", workspace_id=1)
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, QrIssued)]
        await host.stop_session("s1")
        # The same Chromium profile laid out as whatsapp-web.js LocalAuth keeps it.
        auth = tmp_path / ".wwebjs_auth" / "session-client7"
        shutil.copytree(profile, auth)
        adopt_localauth(
            auth.parent, sessions_dir=tmp_path / "sessions", workspace_id=7, session_id="adopted"
        )
        mark = len(w.recorder.events)
        await host.start_session(session_id="adopted", workspace_id=7)
        ready = await w.recorder.wait_for(
            SessionReady, lambda e: e.session_id == "adopted", start=mark
        )
        assert ready.restored and ready.phone_number == PHONE
        assert (await w.phone.stats())["conflicts_total"] == 0
