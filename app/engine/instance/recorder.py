"""The instance's event recorder: the host's events, written to the store in order.

The host's `emit` only queues (it runs on the loop and must never block); a
thread of the recorder's own takes up to `BATCH` queued events at a time and
hands them to `InstanceStore.record`, which writes each state change, its
timeline row and its webhook in one transaction. The deliverer is woken
after each commit that queued a webhook, so a QR's webhook never waits for
the rest of a burst, and is handed the committed rows that head their
session's queue, so it sends them without reading them back.

Nothing on a webhook's way waits for a turn of the event loop, which also
drives every page and can be busy for tens of milliseconds when pages start:
the queue is a thread-safe one the recorder's thread waits on (an event
reaches it without the loop scheduling a task or a worker thread for it),
and the hand-over (`on_recorded`) is called from that thread, so it must be
safe to call from any thread: the deliverer runs on a thread of its own
(`app.sync.delivery_thread`). Only `flush` waiters hear back through the
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
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
THREAD_NAME = "event-recorder"


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
        """`on_recorded` is called from the recording thread (see the module doc)."""
        self._store = store
        self._instance_id = instance_id
        self._counters = counters
        self._on_recorded = on_recorded
        self._queue: queue.SimpleQueue[EngineEvent | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Loop side only: events submitted, events the thread finished with, and the
        # flushes waiting for a count of finished events.
        self._submitted = 0
        self._finished = 0
        self._flushes: list[tuple[int, asyncio.Future[None]]] = []

    def start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
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
        if self._finished >= target:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._flushes.append((target, waiter))
        await waiter

    async def aclose(self) -> None:
        """Write what is queued, then stop the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(thread.join)
        await asyncio.sleep(0)  # the thread's last `_finish` callbacks run before this returns
        for _, waiter in self._flushes:  # nothing more will be written by this recorder
            if not waiter.done():
                waiter.set_result(None)
        self._flushes.clear()

    def _finish(self, count: int) -> None:
        """On the loop: `count` more events are written (or failed); wake their flushes."""
        self._finished += count
        waiting = []
        for target, waiter in self._flushes:
            if target <= self._finished:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._flushes = waiting

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[EngineEvent] = []
            item = self._queue.get()
            taken = 1
            if item is None:
                stop = True
            else:
                batch.append(item)
            while not stop and len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                taken += 1
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            try:
                if batch:
                    recorded, failed = self._store.record(batch, self._on_recorded)
                    self._counters.recorded += recorded
                    self._counters.record_failures += failed
            except Exception:
                self._counters.record_failures += len(batch)
                log.exception("could not record %d event(s)", len(batch))
            finally:
                self._tell_loop(taken)

    def _tell_loop(self, count: int) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(self._finish, count)
