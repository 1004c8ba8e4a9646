"""Twenty sessions on two real instances, and a full restart of engine and sandbox.

Through the real Engine (supervisor, instance processes, Chromium, the
embedded sandbox), each QR scanned with the test phone as staff would. Then
everything stops, the sandbox included, and starts again on the same data
folder: the sandbox remembers its linked devices (`sandbox-state.json`), so
every session comes back connected without a QR, and nobody fights over an
account at any point.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from app.domain.models import AccountSpec
from app.domain.states import SessionState
from app.sandbox import AsyncTestPhone
from tests.engine.engine_e2e_support import engine_with_watch, scan

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SESSIONS = 20


def phone_number(i: int) -> str:
    return f"628130000{i:04d}"


async def test_twenty_sessions_connect_then_survive_a_full_restart_without_a_qr(
    tmp_path: Path,
) -> None:
    async with engine_with_watch(tmp_path) as (engine, watch):
        assert engine.runtime is not None
        url = engine.runtime.provider_url
        phone = AsyncTestPhone(url)
        try:
            specs = [
                AccountSpec(workspace_id=30 + i % 3, label=f"fleet {i}") for i in range(SESSIONS)
            ]
            infos = await engine.add_accounts(specs)
            sids = [info.session_id for info in infos]
            await asyncio.gather(
                *(scan(watch, phone, sid, phone_number(i)) for i, sid in enumerate(sids))
            )
            await watch.connected(sids, since=0, timeout=300)
            rows = {r.session_id: r for r in await engine.list_sessions()}
            assert {rows[sid].state for sid in sids} == {SessionState.CONNECTED}
            assert {rows[sid].phone_number for sid in sids} == {
                phone_number(i) for i in range(SESSIONS)
            }
            per_instance = {r.instance_id for r in rows.values()}
            assert per_instance == {"instance-0", "instance-1"}
            assert (await phone.stats())["conflicts_total"] == 0
        finally:
            await phone.aclose()
    assert (tmp_path / "data" / "sandbox-state.json").is_file()
    assert watch.chromium_left() == []

    # Everything stopped, the sandbox too; the same data folder starts it all again.
    started = time.perf_counter()
    async with engine_with_watch(tmp_path) as (engine, watch):
        assert engine.runtime is not None
        assert engine.runtime.provider_url == url, "same origin, so saved logins still apply"
        phone = AsyncTestPhone(url)
        try:
            await watch.connected(sids, since=0, timeout=300)
            print(f"\n{SESSIONS} sessions restored in {time.perf_counter() - started:.1f} s")
            assert watch.qrs_since(0, sids) == []
            rows = {r.session_id: r for r in await engine.list_sessions()}
            assert {rows[sid].state for sid in sids} == {SessionState.CONNECTED}
            stats = await phone.stats()
            assert stats["conflicts_total"] == 0
            assert stats["restores"] >= SESSIONS
        finally:
            await phone.aclose()
    assert watch.chromium_left() == []
