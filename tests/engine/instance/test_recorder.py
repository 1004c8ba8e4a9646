"""The event recorder writes from a thread of its own, in order, batch after batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from app.domain.events import EngineEvent, SessionStateChanged
from app.domain.outbox import OutboxItem
from app.domain.states import Reason, SessionState
from app.engine.instance.load import Counters
from app.engine.instance.recorder import EventRecorder
from tests.sync.conftest import qr_event

AT = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)


class HeldStore:
    """Records batches; the first `record` waits until `release` is set."""

    def __init__(self) -> None:
        self.batches: list[list[EngineEvent]] = []
        self.threads: set[str] = set()
        self.entered = threading.Event()
        self.release = threading.Event()

    def record(
        self,
        events: Sequence[EngineEvent],
        on_outbox: Callable[[Sequence[OutboxItem]], None] | None = None,
    ) -> tuple[int, int]:
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        self.release.wait(timeout=30)
        self.batches.append(list(events))
        if any(getattr(e, "qr_count", 0) == 99 for e in events):
            raise RuntimeError("database is locked")
        return len(events), 0


def _recorder(store: HeldStore, woken: list[Sequence[OutboxItem]]) -> EventRecorder:
    return EventRecorder(
        store=store,  # type: ignore[arg-type]
        instance_id="i0",
        counters=Counters(),
        on_recorded=woken.append,
    )


async def test_events_queued_behind_a_batch_are_written_after_it_in_order() -> None:
    store = HeldStore()
    woken: list[Sequence[OutboxItem]] = []
    recorder = _recorder(store, woken)
    recorder.start()
    try:
        recorder.submit(qr_event("s1", 1, AT))
        while not store.entered.is_set():
            await asyncio.sleep(0.001)
        for n in range(2, 6):  # queued while the first batch is being written
            recorder.submit(qr_event("s1", n, AT))
        store.release.set()
        await recorder.flush()
    finally:
        await recorder.aclose()
    written = [e.qr_count for batch in store.batches for e in batch]  # type: ignore[attr-defined]
    assert written == [1, 2, 3, 4, 5]
    assert [len(b) for b in store.batches] == [1, 4]  # the four queued went as one batch
    assert store.threads == {"event-recorder"}
    assert woken == [(), ()]  # the deliverer is woken after each batch


async def test_a_failing_batch_is_counted_and_the_next_one_still_written() -> None:
    store = HeldStore()
    store.release.set()
    counters = Counters()
    recorder = EventRecorder(store=store, instance_id="i0", counters=counters)  # type: ignore[arg-type]
    recorder.start()
    try:
        recorder.submit(qr_event("s1", 99, AT))
        await recorder.flush()
        recorder.submit(qr_event("s1", 2, AT))
        await recorder.flush()
    finally:
        await recorder.aclose()
    assert counters.record_failures == 1 and counters.recorded == 1


async def test_close_writes_what_is_queued_and_a_shutdown_stop_means_restart() -> None:
    store = HeldStore()
    store.release.set()
    recorder = _recorder(store, [])
    recorder.start()
    stopped = SessionStateChanged(
        session_id="s1",
        workspace_id=7,
        state=SessionState.STOPPED,
        previous=SessionState.CONNECTED,
        reason=Reason.USER_INITIATED,
        at=AT,
    )
    recorder.submit(qr_event("s1", 1, AT))
    recorder.submit(stopped, shutting_down=True)
    await recorder.aclose()
    written = [e for batch in store.batches for e in batch]
    assert len(written) == 2
    assert isinstance(written[1], SessionStateChanged)
    assert written[1].reason is Reason.INSTANCE_RESTART
    await recorder.flush()  # nothing left to wait for
