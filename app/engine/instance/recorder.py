"""The instance's event recorder: the host's events, written to the store in order.

The host's `emit` only queues (it runs on the loop and must never block); one
thread of the recorder's own takes up to `BATCH` queued events at a time and
hands them to `InstanceStore.record`, which writes each state change, its
timeline row and its webhook in one transaction. The thread goes from one
batch to the next without a trip through the event loop: under CPU load each
hand-off between the loop and a worker thread is a wait for a core, and an
event queued behind a batch used to pay two of them (the batch's result back
to the loop, the next batch out to a worker) before its own write began.

The deliverer is woken after each commit that queued a webhook, so a QR's
webhook never waits for the rest of a burst, and is handed the committed
rows that head their session's queue, so it sends them without reading them
back. Counters, `flush()` waiters and the after-batch wake-up are settled on
the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import threading
from collections.abc import Callable, Sequence

from app.domain.events import EngineEvent, SessionStateChanged
from app.domain.outbox import OutboxItem
from app.domain.states import Reason, SessionState
from app.engine.instance.load import Counters
from app.engine.instance.store import InstanceStore

log = logging.getLogger(__name__)

BATCH = 200


class EventRecorder:
    """Queues events from the loop and writes them in order from one thread.

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
        self._queue: queue.SimpleQueue[EngineEvent | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._submitted = 0  # events queued so far (loop side)
        self._written = 0  # events the thread has finished with (settled on the loop)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._stopped = self._loop.create_future()
            self._thread = threading.Thread(
                target=self._run, args=(self._loop,), name="event-recorder", daemon=True
            )
            self._thread.start()

    def submit(self, event: EngineEvent, *, shutting_down: bool = False) -> None:
        if (
            shutting_down
            and isinstance(event, SessionStateChanged)
            and event.state is SessionState.STOPPED
        ):
            event = dataclasses.replace(event, reason=Reason.INSTANCE_RESTART)
        self._submitted += 1
        self._queue.put(event)

    async def flush(self) -> None:
        """Wait until everything submitted so far is written."""
        target = self._submitted
        if self._written >= target:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        await waiter

    async def aclose(self) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is None or self._stopped is None:
            return
        self._queue.put(None)
        await self._stopped
        self._thread = None

    # ------------------------------------------------------------ the thread

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        def to_loop(callback: Callable[..., None], *args: object) -> None:
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # the loop is closed: nobody is left to tell
                pass

        wake = self._on_recorded

        def handed(items: Sequence[OutboxItem] = ()) -> None:
            if wake is not None:
                to_loop(wake, tuple(items))

        stop = False
        while not stop:
            batch: list[EngineEvent] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stop = True
                    break
                batch.append(item)
                if len(batch) >= BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            recorded = failed = 0
            if batch:
                try:
                    recorded, failed = self._store.record(
                        batch, handed if wake is not None else None
                    )
                except Exception:
                    failed = len(batch)
                    log.exception("could not record %d event(s)", len(batch))
            to_loop(self._settle, len(batch), recorded, failed)
        to_loop(self._finish)

    # ------------------------------------------------------------- the loop

    def _settle(self, taken: int, recorded: int, failed: int) -> None:
        self._counters.recorded += recorded
        self._counters.record_failures += failed
        self._written += taken
        if self._on_recorded is not None and recorded:
            self._on_recorded(())
        waiting = self._waiters
        self._waiters = []
        for target, waiter in waiting:
            if target <= self._written:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                self._waiters.append((target, waiter))

    def _finish(self) -> None:
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters = []
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)
