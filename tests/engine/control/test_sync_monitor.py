"""The console's sync indicator is fed from the store's outbox metrics."""

from __future__ import annotations

import asyncio

from app.domain.events import SyncStatus
from app.domain.outbox import DeliveryMetrics
from app.engine.control.sync_monitor import sync_monitor


async def test_publishes_at_start_and_only_on_change() -> None:
    readings = [
        DeliveryMetrics(),
        DeliveryMetrics(),
        DeliveryMetrics(pending=2, oldest_pending_age=3.0),
        DeliveryMetrics(delivered=2, dead=1, last_error="HTTP 401: signature mismatch"),
    ]
    published: list[SyncStatus] = []

    async def read() -> DeliveryMetrics:
        return readings.pop(0) if len(readings) > 1 else readings[0]

    async with sync_monitor(
        read_metrics=read, publish=published.append, enabled=True, interval=0.001
    ):
        for _ in range(200):
            if len(published) == 3:
                break
            await asyncio.sleep(0.005)
    assert [(s.pending, s.delivered, s.dead) for s in published] == [
        (0, 0, 0),
        (2, 0, 0),
        (2 - 2, 2, 1),
    ]
    assert published[-1].last_error.startswith("HTTP 401") and published[0].enabled


async def test_a_store_error_does_not_stop_the_monitor() -> None:
    calls = 0
    published: list[SyncStatus] = []

    async def read() -> DeliveryMetrics:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is locked")
        return DeliveryMetrics(pending=1)

    async with sync_monitor(
        read_metrics=read, publish=published.append, enabled=False, interval=0.001
    ):
        for _ in range(200):
            if published:
                break
            await asyncio.sleep(0.005)
    assert published and published[0].pending == 1 and not published[0].enabled
