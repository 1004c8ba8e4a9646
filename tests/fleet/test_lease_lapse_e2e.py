"""A console attached to a fleet is told when a member dies, and sees the session
come back on another member (real members, Chromium and the sandbox).

One member runs a linked session; it is killed (-9, its watchdog left to close
its browser). No other member is alive, so the console gets
`disconnected (no_member)` from the leases alone: the dead member sends
nothing. A second member then starts, takes the session over and restores it
without a QR: the console shows it `connected` on that member.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.bootstrap import open_engine
from app.config import Settings
from app.domain.events import EngineEvent, QrIssued, SessionStateChanged
from app.domain.models import AccountSpec
from app.domain.states import Reason, SessionState
from app.engine.api import Engine as ConsoleEngine
from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer
from app.store import session_factory
from app.store.fleet_models import SessionSnapshot
from tests.fleet.fleet_support import TOKEN, Member, next_event, start_member

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]


def _shipped(engine: Engine, sid: str) -> bool:
    with session_factory(engine)() as session:
        return session.get(SessionSnapshot, sid) is not None


async def test_a_console_sees_a_dead_members_session_wait_then_come_back(
    tmp_path: Path, fleet_url: str, fleet_engine: Engine
) -> None:
    settings = Settings.load(
        environ={
            "PAIRDESK_FLEET_DATABASE_URL": fleet_url,
            "PAIRDESK_INSTANCE_TOKEN": TOKEN,
            "PAIRDESK_LEASE_TTL": "6",
            "PAIRDESK_LEASE_GRACE": "2",
            "PAIRDESK_LEASE_MARGIN": "1",
        },
        cwd=tmp_path,
    )
    members: list[Member] = []
    with SandboxServer(SandboxOptions(time_scale=0.2, boot_delay=0.1)) as sandbox:
        members.append(
            await start_member(tmp_path, "m1", fleet_url=fleet_url, sandbox_url=sandbox.url)
        )
        console: ConsoleEngine = open_engine(settings)
        queue: asyncio.Queue[EngineEvent] = asyncio.Queue()

        async def pump() -> None:
            async for event in console.subscribe():
                queue.put_nowait(event)

        pumping: asyncio.Task[None] | None = None
        try:
            await console.start()
            pumping = asyncio.create_task(pump())
            await asyncio.sleep(0.5)  # the console's event stream opens
            (info,) = await console.add_accounts([AccountSpec(workspace_id=3)])
            sid = info.session_id
            qr = await next_event(queue, QrIssued, session_id=sid)
            async with AsyncTestPhone(sandbox.url) as phone:
                await phone.scan(qr.qr, "6281500000002")  # type: ignore[attr-defined]
                await next_event(
                    queue, SessionStateChanged, session_id=sid, state=SessionState.CONNECTED
                )

                # Its login must be in shared storage first (shipped every TTL/3).
                async with asyncio.timeout(60):  # a failure guard only
                    while not await asyncio.to_thread(_shipped, fleet_engine, sid):
                        await asyncio.sleep(0.2)
                members[0].remember_tree()
                os.kill(members[0].proc.pid, signal.SIGKILL)  # its watchdog closes the browser
                lapsed = await next_event(queue, SessionStateChanged, session_id=sid)
                assert (lapsed.state, lapsed.reason) == (  # type: ignore[attr-defined]
                    SessionState.DISCONNECTED,
                    Reason.NO_MEMBER,
                )
                assert "m1 stopped renewing its lease" in lapsed.detail  # type: ignore[attr-defined]
                (shown,) = await console.list_sessions()
                assert (shown.state, shown.reason) == (SessionState.DISCONNECTED, Reason.NO_MEMBER)

                members.append(
                    await start_member(tmp_path, "m2", fleet_url=fleet_url, sandbox_url=sandbox.url)
                )
                back = await next_event(
                    queue, SessionStateChanged, session_id=sid, state=SessionState.CONNECTED
                )
                assert back.instance_id == "m2"
                (shown,) = await console.list_sessions()
                assert (shown.state, shown.instance_id) == (SessionState.CONNECTED, "m2")
                stats = await phone.stats()
                assert stats["conflicts_total"] == 0
        finally:
            if pumping is not None:
                pumping.cancel()
            await console.aclose()
            for member in members:
                member.kill_everything()
                await member.proc.wait()
