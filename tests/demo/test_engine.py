"""`DemoEngine` runs without Qt, a browser or a network and behaves like an engine:
a fleet at start, accounts created stopped open with a QR, the demo scan links them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.demo.engine import DemoEngine
from app.domain.events import EngineEvent, QrIssued, SessionReady
from app.domain.models import AccountSpec
from app.domain.states import SessionState
from app.engine.api import DoctorCheck


async def _next(events: AsyncIterator[EngineEvent], kind: type[EngineEvent]) -> EngineEvent:
    async with asyncio.timeout(30):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the stream ended before a {kind.__name__}")


async def test_a_created_account_opens_with_a_qr_and_the_demo_scan_links_it() -> None:
    engine = DemoEngine(fleet=4, instances=2)
    events = engine.subscribe()
    await engine.start()
    try:
        assert len(await engine.list_sessions()) == 4
        assert [i.instance_id for i in await engine.list_instances()] == ["i-1", "i-2"]
        (info,) = await engine.add_accounts(
            [AccountSpec(workspace_id=9, label="Kopi")], start=False
        )
        assert info.state is SessionState.STOPPED and info.label == "Kopi"
        await engine.start_session(info.session_id)
        qr = await _next(events, QrIssued)
        assert isinstance(qr, QrIssued) and qr.session_id == info.session_id
        with pytest.raises(ValueError, match="no longer current"):
            await engine.demo_scan("2@not-a-current-ref", "6281100000001")
        await engine.demo_scan(qr.qr, "6281100000001")
        ready = await _next(events, SessionReady)
        assert isinstance(ready, SessionReady) and ready.session_id == info.session_id
        states = {s.session_id: s.state for s in await engine.list_sessions()}
        assert states[info.session_id] is SessionState.CONNECTED
        assert all(isinstance(c, DoctorCheck) for c in await engine.doctor())
    finally:
        await engine.aclose()
    async with asyncio.timeout(30):  # the stream ends when the engine closes
        async for _ in events:
            pass
