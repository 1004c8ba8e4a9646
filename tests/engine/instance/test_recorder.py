"""The event recorder writes on a thread of its own, in order, without the loop's help."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from app.domain.events import EngineEvent, SessionStateChanged
from app.domain.outbox import OutboxItem
from app.domain.states import Reason, SessionState
from app.engine.instance.load import Counters
from app.engine.instance.recorder import THREAD_NAME, EventRecorder

SID = "webjs_42_1700000000_abcd1234"
WAIT = 10.0  # seconds: a bound for a broken recorder, never a measure of speed


def change(state: SessionState, previous: SessionState) -> SessionStateChanged:
    return SessionStateChanged(
        session_id=SID, workspace_id=42, state=state, previous=previous, at=datetime.now(UTC)
    )


class Store:
    """Records what `record` was given, on which thread; fails when told to."""

    def __init__(self) -> None:
        self.batches: list[list[EngineEvent]] = []
        self.threads: set[str] = set()
        self.written = threading.Event()
        self.fail = False

    def record(
        self,
        events: Sequence[EngineEvent],
        on_outbox: Callable[[Sequence[OutboxItem]], None] | None = None,
    ) -> tuple[int, int]:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise OSError("disk full")
        self.batches.append(list(events))
        if on_outbox is not None:
            on_outbox(())
        self.written.set()
        return len(events), 0


def recorder(
    store: Store, counters: Counters, hook: Callable[..., None] | None = None
) -> EventRecorder:
    return EventRecorder(
        store=store,  # type: ignore[arg-type]  # only `record` is used
        instance_id="i-1",
        counters=counters,
        on_recorded=hook,
    )


async def test_an_event_is_written_and_handed_over_while_the_loop_is_blocked() -> None:
    store, counters = Store(), Counters()
    hooked: list[str] = []
    rec = recorder(store, counters, lambda items: hooked.append(threading.current_thread().name))
    rec.start()
    rec.submit(change(SessionState.QR, SessionState.STARTING))
    # This loop is held by a blocking wait: the event is written all the same.
    assert store.written.wait(WAIT)
    assert store.threads == {THREAD_NAME}
    assert hooked == [THREAD_NAME]
    await rec.flush()
    assert counters.recorded == 1
    await rec.aclose()


async def test_flush_waits_for_everything_submitted_and_close_writes_what_is_queued() -> None:
    store, counters = Store(), Counters()
    rec = recorder(store, counters)
    rec.submit(change(SessionState.QR, SessionState.STARTING))  # queued before the start
    rec.start()
    rec.submit(change(SessionState.PAIRING, SessionState.QR))
    await rec.flush()
    written = [e for batch in store.batches for e in batch]
    assert [e.state for e in written if isinstance(e, SessionStateChanged)] == [
        SessionState.QR,
        SessionState.PAIRING,
    ]
    rec.submit(change(SessionState.STOPPED, SessionState.PAIRING), shutting_down=True)
    await rec.aclose()
    last = store.batches[-1][-1]
    assert isinstance(last, SessionStateChanged)
    assert last.reason is Reason.INSTANCE_RESTART  # a shutdown's stop brings it back later
    assert counters.recorded == 3
    await rec.flush()  # nothing pending: returns at once
    await rec.aclose()  # a second close does nothing


async def test_a_failed_write_is_counted_and_never_leaves_a_flush_waiting() -> None:
    store, counters = Store(), Counters()
    store.fail = True
    rec = recorder(store, counters)
    rec.start()
    rec.submit(change(SessionState.QR, SessionState.STARTING))
    rec.submit(change(SessionState.PAIRING, SessionState.QR))
    await rec.flush()
    assert counters.record_failures >= 1
    store.fail = False
    rec.submit(change(SessionState.CONNECTED, SessionState.PAIRING))
    await rec.flush()
    assert counters.recorded == 1
    await rec.aclose()
