"""The replaced design behind the engine surface (`ReplacedEngine`, qr-latency's third design)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app.bench._baseline import ReplacedEngine
from app.domain.events import QrIssued, SessionStateChanged
from app.domain.models import AccountSpec
from app.domain.states import SessionState


class SlowToReturnDesign:
    """Publishes the QR, then takes a while before `add` returns (the pid lookup)."""

    def __init__(self) -> None:
        self.closed: list[Any] = []
        self.finish = asyncio.Event()

    async def add(self, client_id: str, *, listener: Any) -> object:
        session = object()
        listener(session, f"2@{client_id},qr")
        await self.finish.wait()
        return session

    async def close(self, session: object) -> None:
        self.closed.append(session)


async def test_a_stop_asked_for_while_the_add_is_finishing_waits_for_it(tmp_path: Path) -> None:
    engine = ReplacedEngine(chromium_path=None, root=tmp_path, url="http://127.0.0.1:1/")
    design = engine._design = SlowToReturnDesign()  # type: ignore[assignment]
    events = engine.subscribe()
    adding = asyncio.create_task(engine.add_accounts([AccountSpec(workspace_id=7, label="x")]))
    qr = await anext(events)
    assert isinstance(qr, QrIssued)  # on screen: the console may stop it now
    stopping = asyncio.create_task(engine.stop_session(qr.session_id))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waits for the add instead of failing on an unknown id
    design.finish.set()
    await adding
    await stopping
    stopped = await anext(events)
    assert isinstance(stopped, SessionStateChanged) and stopped.state is SessionState.STOPPED
    assert len(design.closed) == 1
