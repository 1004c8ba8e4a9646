"""Publishes the outbox's delivery health as `SyncStatus` events for the console.

Each instance delivers its own sessions' webhooks, so no single process holds
the whole picture in memory; the store does. This owner reads the outbox
metrics every `interval` seconds and publishes a `SyncStatus` when anything
changed (and once at start, so the console's indicator never stays on
"starting").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from app.domain.events import SyncStatus
from app.domain.outbox import DeliveryMetrics

log = logging.getLogger(__name__)

__all__ = ["sync_monitor", "status_from_metrics"]


def status_from_metrics(metrics: DeliveryMetrics, *, enabled: bool) -> SyncStatus:
    return SyncStatus(
        enabled=enabled,
        pending=metrics.pending,
        oldest_pending_age=round(metrics.oldest_pending_age, 1),
        delivered=metrics.delivered,
        dead=metrics.dead,
        last_error=metrics.last_error,
    )


def _same(a: SyncStatus, b: SyncStatus) -> bool:
    keys = ("enabled", "pending", "oldest_pending_age", "delivered", "dead", "last_error")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


@contextlib.asynccontextmanager
async def sync_monitor(
    *,
    read_metrics: Callable[[], Awaitable[DeliveryMetrics]],
    publish: Callable[[SyncStatus], None],
    enabled: bool,
    interval: float = 2.0,
) -> AsyncIterator[None]:
    """Run the monitor for the duration of the block (the task is owned and awaited)."""

    async def run() -> None:
        last: SyncStatus | None = None
        while True:
            try:
                status = status_from_metrics(await read_metrics(), enabled=enabled)
            except Exception as exc:  # a store hiccup must not end the monitor
                log.warning("could not read the outbox metrics: %s", exc)
            else:
                if last is None or not _same(last, status):
                    publish(status)
                    last = status
            await asyncio.sleep(interval)

    task = asyncio.create_task(run(), name="sync-monitor")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
