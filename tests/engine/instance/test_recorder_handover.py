"""The recorder hands the deliverer each committed webhook row that heads its session's queue."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from app.domain.outbox import OutboxItem, OutboxState
from app.store import outbox
from tests.engine.instance_harness import api_client, running_instance

WS = 42
SID = "webjs_42_1700000000_abcd1234"


async def test_committed_heads_reach_the_delivery_hook(tmp_path: Path) -> None:
    handed: list[OutboxItem] = []
    calls = 0

    def hook(items: Sequence[OutboxItem]) -> None:
        nonlocal calls
        calls += 1
        handed.extend(items)

    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        h.instance.set_delivery_hook(hook)
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        h.host.scan(SID, "+62 812-3456-7890")
        await h.instance.flush()
        with h.store.sessions() as session:
            rows = outbox.list_items(session, session_id=SID)
    assert [(r.name, r.state) for r in rows] == [
        ("qr_code_generated", OutboxState.SUPERSEDED),
        ("session_authenticated", OutboxState.PENDING),
        ("session_ready", OutboxState.PENDING),
    ]
    # The QR and the first state event each headed the queue when committed (the QR was
    # pending until the state event superseded it); session_ready waited behind
    # session_authenticated, so the deliverer finds it by reading, in order.
    assert [(i.name, i.state) for i in handed] == [
        ("qr_code_generated", OutboxState.PENDING),
        ("session_authenticated", OutboxState.PENDING),
    ]
    assert [i.event_id for i in handed] == [r.event_id for r in rows[:2]]
    assert calls >= 3  # every commit that queued a webhook still wakes the deliverer
