"""The whole engine with real instances and Chromium against the embedded sandbox."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from app.domain.events import QrIssued, SessionReady, SessionStateChanged
from app.domain.models import AccountSpec
from app.domain.states import SessionState
from app.sandbox import AsyncTestPhone
from tests.engine.engine_e2e_support import engine_with_watch, scan

pytestmark = pytest.mark.e2e


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
                await scan(watch, phone, info.session_id, number)
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
    assert watch.chromium_left() == []
