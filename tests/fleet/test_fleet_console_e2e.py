"""Two consoles attached to a fleet (`FleetEngine`) see and drive the same sessions.

A real member (process, Chromium) and the sandbox: one console adds an
account, both receive its QR through the member's event stream, the test
phone scans it, both see it connected on the member. Closing both consoles
changes nothing for the session; stopping the member cleanly releases its
lease, its login kept in shared storage.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.bootstrap import open_engine
from app.config import Settings
from app.domain.events import EngineEvent, QrIssued, SessionStateChanged
from app.domain.models import AccountSpec
from app.domain.states import SessionState
from app.engine.api import Engine as ConsoleEngine
from app.engine.control.fleet_engine import FleetEngine
from app.fleet.leases import LeaseStore
from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer
from app.store import session_factory
from app.store.fleet_models import SessionSnapshot
from tests.fleet.fleet_support import TOKEN, client, next_event, start_member

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]


async def _pump(engine: ConsoleEngine, queue: asyncio.Queue[EngineEvent]) -> None:
    async for event in engine.subscribe():
        queue.put_nowait(event)


async def test_two_consoles_attach_link_a_session_and_detach_without_effect(
    tmp_path: Path, fleet_url: str, fleet_engine: Engine
) -> None:
    settings = Settings.load(
        environ={"PAIRDESK_FLEET_DATABASE_URL": fleet_url, "PAIRDESK_INSTANCE_TOKEN": TOKEN},
        cwd=tmp_path,
    )
    with SandboxServer(SandboxOptions(time_scale=0.2, boot_delay=0.1)) as sandbox:
        member = await start_member(tmp_path, "m1", fleet_url=fleet_url, sandbox_url=sandbox.url)
        # Whatever fails below, the member (and its Chromium) is stopped at the end.
        try:
            consoles = [open_engine(settings), open_engine(settings)]
            assert all(isinstance(c, FleetEngine) for c in consoles)
            queues: list[asyncio.Queue[EngineEvent]] = [asyncio.Queue(), asyncio.Queue()]
            pumps: list[asyncio.Task[None]] = []
            try:
                for console, queue in zip(consoles, queues, strict=True):
                    await console.start()
                    pumps.append(asyncio.create_task(_pump(console, queue)))
                # The member prints its ready line, then registers: the console lists it then.
                async with asyncio.timeout(60):
                    while not (listed := await consoles[1].list_instances()):
                        await asyncio.sleep(0.1)
                (instance,) = listed
                assert (instance.instance_id, instance.alive, instance.url) == (
                    "m1",
                    True,
                    member.url,
                )
                assert instance.memory_bytes > 0 and instance.last_error == ""  # from its /health
                await asyncio.sleep(0.5)  # the consoles' event streams open
                (info,) = await consoles[0].add_accounts(
                    [AccountSpec(workspace_id=3, label="Desk")]
                )
                sid = info.session_id
                qrs = [await next_event(q, QrIssued, session_id=sid) for q in queues]
                assert qrs[0].qr == qrs[1].qr  # type: ignore[attr-defined]
                async with AsyncTestPhone(sandbox.url) as phone:
                    await phone.scan(qrs[0].qr, "6281500000001")  # type: ignore[attr-defined]
                    for q in queues:
                        await next_event(
                            q, SessionStateChanged, session_id=sid, state=SessionState.CONNECTED
                        )
                    assert (await phone.stats())["conflicts_total"] == 0
                rows = {i.session_id: i for i in await consoles[1].list_sessions()}
                assert rows[sid].state is SessionState.CONNECTED
                assert rows[sid].instance_id == "m1"
                timeline = await consoles[1].session_timeline(sid)
                assert [e.state for e in timeline][-1] is SessionState.CONNECTED
            finally:
                for pump in pumps:
                    pump.cancel()
                for console in consoles:
                    await console.aclose()
            async with client(member.url) as c:
                status = (await c.get(f"api/sessions/{sid}/status")).json()
            assert status["status"] == "connected"  # the consoles are gone; the session is not
            # A clean stop (SIGTERM) releases the lease for immediate take-over.
            member.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(90):
                assert await member.proc.wait() == 0
            leases = LeaseStore(fleet_engine, ttl=6.0, grace=2.0)
            assert [(s, o) for s, o, _, _ in leases.leases()] == [(sid, None)]
            with session_factory(fleet_engine)() as session:
                snapshot = session.get(SessionSnapshot, sid)
            assert snapshot is not None and snapshot.size > 0  # its login is in shared storage
        finally:
            member.kill_everything()
            await member.proc.wait()
