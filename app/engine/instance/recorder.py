"""The instance's event recorder: the host's events, written to the store in order.

The host's `emit` only queues (it runs on the loop and must never block); one
owned task takes up to `BATCH` queued events at a time and hands them to
`InstanceStore.record` in a worker thread, which writes each state change,
its timeline row and its webhook in one transaction. The deliverer is woken
after each commit that queued a webhook, so a QR's webhook never waits for
the rest of a burst, and is handed the committed rows that head their
session's queue, so it sends them without reading them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence

from app.domain.events import EngineEvent, SessionStateChanged
from app.domain.outbox import OutboxItem
from app.domain.states import Reason, SessionState
from app.engine.instance.load import Counters
from app.engine.instance.store import InstanceStore

log = logging.getLogger(__name__)

BATCH = 200


class EventRecorder:
    """Queues events from the loop and writes them in order from one worker task.

    During shutdown a `stopped` state is recorded with reason
    `instance_restart` (whatever the host said), so the next start of the
    instance knows to bring the session back.
    """

    def __init__(
        self,
        *,
        store: InstanceStore,
        instance_id: str,
        counters: Counters,
        on_recorded: Callable[[Sequence[OutboxItem]], None] | None = None,
    ) -> None:
        self._store = store
        self._instance_id = instance_id
        self._counters = counters
        self._on_recorded = on_recorded
        self._queue: asyncio.Queue[EngineEvent | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-recorder")

    def submit(self, event: EngineEvent, *, shutting_down: bool = False) -> None:
        if (
            shutting_down
            and isinstance(event, SessionStateChanged)
            and event.state is SessionState.STOPPED
        ):
            event = dataclasses.replace(event, reason=Reason.INSTANCE_RESTART)
        self._queue.put_nowait(event)

    async def flush(self) -> None:
        """Wait until everything submitted so far is written."""
        await self._queue.join()

    async def aclose(self) -> None:
        """Write what is queued, then stop the worker."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def _wake_from_thread(self) -> Callable[[Sequence[OutboxItem]], None] | None:
        """`on_recorded`, made safe to call from the recording thread."""
        if self._on_recorded is None:
            return None
        loop = asyncio.get_running_loop()
        wake = self._on_recorded

        def from_thread(items: Sequence[OutboxItem] = ()) -> None:
            loop.call_soon_threadsafe(wake, tuple(items))

        return from_thread

    async def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[EngineEvent] = []
            item = await self._queue.get()
            taken = 1
            if item is None:
                stop = True
            else:
                batch.append(item)
            while not stop and len(batch) < BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                taken += 1
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            try:
                if batch:
                    recorded, failed = await asyncio.to_thread(
                        self._store.record, batch, self._wake_from_thread()
                    )
                    self._counters.recorded += recorded
                    self._counters.record_failures += failed
                    if self._on_recorded is not None and recorded:
                        self._on_recorded(())
            except Exception:
                self._counters.record_failures += len(batch)
                log.exception("could not record %d event(s)", len(batch))
            finally:
                for _ in range(taken):
                    self._queue.task_done()
