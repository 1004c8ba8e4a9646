"""`EngineHost`: the engine's asyncio loop on one background thread, bridged to Qt.

Calls go in with `asyncio.run_coroutine_threadsafe`, wrapped in small
`Operation` objects whose success/failure callbacks run on the GUI thread
(Anki's `CollectionOp` pattern). Events come out as typed Qt signals; the
loop thread only appends them to a deque, and a 50 ms timer on the GUI thread
drains it, so a burst of a thousand heartbeats costs one repaint.
Playwright and ORM objects never cross: only frozen dataclasses do.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.domain.events import EngineEvent, InstanceLoad, SyncStatus
from app.engine.api import Engine

log = logging.getLogger(__name__)

EngineFactory = Callable[[], Engine]
EngineCall = Callable[[Engine], Awaitable[Any]]

_LOADED = object()  # marker in the queue: initial lists follow


class Operation:
    """One call into the engine; callbacks run on the GUI thread.

    `host.op(lambda e: e.restart_session(sid)).success(cb).failure(cb).run()`
    """

    def __init__(self, host: EngineHost, call: EngineCall, label: str = "") -> None:
        self._host = host
        self._call = call
        self.label = label
        self._success: Callable[[Any], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self.future: Future[Any] | None = None

    def success(self, callback: Callable[[Any], None]) -> Operation:
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> Operation:
        self._failure = callback
        return self

    def run(self) -> Operation:
        self.future = self._host._submit(self)
        return self

    def _finish(self, result: Any, error: BaseException | None) -> None:
        if error is not None:
            if self._failure is not None:
                self._failure(error)
            else:
                self._host.sig_operation_failed.emit(self.label or "operation", _message(error))
        elif self._success is not None:
            self._success(result)


def _message(error: BaseException) -> str:
    text = str(error).strip()
    return text or type(error).__name__


class EngineHost(QObject):
    """Owns the engine and its loop thread; the console's only door to the engine.

    Signals:
        sig_started(object): the engine started; carries the engine's `sandbox_url` ('' if none).
        sig_sessions_loaded(list): the first `list_sessions()` result (SessionInfo rows).
        sig_instances_loaded(list): the first `list_instances()` result.
        sig_session_events(list): a coalesced batch of session events, in order.
        sig_instance_loads(list): a coalesced batch of `InstanceLoad` samples.
        sig_sync_status(object): the latest `SyncStatus` of a batch.
        sig_engine_failed(str): the engine could not start or its event stream broke.
        sig_operation_failed(str, str): an operation without a failure callback failed
            (label, message for the operator).
        sig_closed(): `close()` finished.
    """

    sig_started = Signal(object)
    sig_sessions_loaded = Signal(list)
    sig_instances_loaded = Signal(list)
    sig_session_events = Signal(list)
    sig_instance_loads = Signal(list)
    sig_sync_status = Signal(object)
    sig_engine_failed = Signal(str)
    sig_operation_failed = Signal(str, str)
    sig_closed = Signal()

    _sig_op_done = Signal(object)  # one tuple: (operation, result, error)

    def __init__(
        self, factory: EngineFactory, *, interval_ms: int = 50, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._factory = factory
        self._engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._boot_future: Future[None] | None = None
        self._queue: deque[Any] = deque()
        self._ready = threading.Event()
        self._closed = False
        self._boot_failed = False  # written on the loop thread, read on the GUI thread
        self._sig_op_done.connect(self._on_host_op_done)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    # ----------------------------------------------------------------- public

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._closed

    def start(self) -> None:
        """Start the loop thread, build and start the engine, load the first lists."""
        if self._thread is not None:
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="engine-loop", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        self._boot_future = asyncio.run_coroutine_threadsafe(self._boot(), self._loop)
        self._timer.start()

    def retry_start(self) -> bool:
        """After a failed start, build and start the engine again (the console retries
        by itself, so a banner clears once its cause is fixed). False when there is
        nothing to retry: never started, closed, started fine, or a start in progress."""
        if self._loop is None or self._closed or not self._boot_failed:
            return False
        if self._boot_future is not None and not self._boot_future.done():
            return False
        self._boot_failed = False
        self._boot_future = asyncio.run_coroutine_threadsafe(self._boot(), self._loop)
        return True

    def op(self, call: EngineCall, label: str = "") -> Operation:
        """An operation on the engine; call `.run()` to submit it."""
        return Operation(self, call, label)

    # One slot per session verb (the same words as the Engine's): a view's
    # request signal connects straight to these; failures reach the window
    # through `sig_operation_failed`.

    @Slot(str)
    def start_session(self, session_id: str) -> None:
        self.op(lambda e: e.start_session(session_id), f"start {session_id}").run()

    @Slot(str)
    def stop_session(self, session_id: str) -> None:
        self.op(lambda e: e.stop_session(session_id), f"stop {session_id}").run()

    @Slot(str)
    def restart_session(self, session_id: str) -> None:
        self.op(lambda e: e.restart_session(session_id), f"restart {session_id}").run()

    @Slot(str)
    def logout_session(self, session_id: str) -> None:
        self.op(lambda e: e.logout_session(session_id), f"log out {session_id}").run()

    @Slot(str)
    def regenerate_qr(self, session_id: str) -> None:
        self.op(lambda e: e.regenerate_qr(session_id), f"new QR for {session_id}").run()

    @Slot(str, str)
    def request_pairing_code(self, session_id: str, phone: str) -> None:
        self.op(
            lambda e: e.request_pairing_code(session_id, phone), f"pairing code for {session_id}"
        ).run()

    @Slot(str)
    def open_window(self, session_id: str) -> None:
        self.op(lambda e: e.open_window(session_id), f"open {session_id} in a window").run()

    def run_coroutine(
        self, coro_factory: Callable[[], Awaitable[Any]], label: str = ""
    ) -> Operation:
        """An operation not bound to the engine (e.g. an HTTP call) on the same loop."""
        return Operation(self, lambda _engine: coro_factory(), label)

    def flush(self) -> None:
        """Deliver everything queued now (tests, and before a screenshot)."""
        self._on_timer_timeout()

    def close(self, timeout: float = 15.0) -> None:
        """Stop the engine (`aclose()`), then the loop and its thread. Idempotent."""
        if self._closed or self._loop is None:
            self._closed = True
            return
        self._closed = True
        self._timer.stop()
        loop = self._loop
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        except Exception as exc:  # shutdown must always finish
            log.warning("engine shutdown: %s", _message(exc))
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        # Whatever is still pending (a slow start, an operation) is cancelled and awaited
        # here, on this thread, now that the loop thread has finished.
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        self.sig_closed.emit()

    # ------------------------------------------------------------ loop thread

    def _run_loop(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()

    async def _boot(self) -> None:
        try:
            engine = self._factory()
            self._engine = engine
            stream = engine.subscribe()
            self._pump_task = asyncio.create_task(self._pump(stream))
            await engine.start()
            sessions = await engine.list_sessions()
            instances = await engine.list_instances()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported to the operator
            log.warning("engine failed to start: %s", _message(exc))
            self._boot_failed = True
            self._queue.append(("failed", f"The engine did not start: {_message(exc)}"))
            return
        self._queue.append(("loaded", engine.sandbox_url, sessions, instances))

    async def _pump(self, stream: AsyncIterator[EngineEvent]) -> None:
        try:
            async for event in stream:
                self._queue.append(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported to the operator
            self._queue.append(("failed", f"Engine events stopped: {_message(exc)}"))

    async def _shutdown(self) -> None:
        boot = self._boot_future
        if boot is not None and not boot.done():
            boot.cancel()  # a start still in progress cleans up after itself (engine contract)
            await asyncio.sleep(0)
        if self._engine is not None:
            await self._engine.aclose()
        if self._pump_task is not None:
            self._pump_task.cancel()
            try:
                await self._pump_task
            except (asyncio.CancelledError, Exception):
                pass

    def _submit(self, op: Operation) -> Future[Any] | None:
        if self._loop is None or self._closed:
            op._finish(None, RuntimeError("The engine is not running."))
            return None

        async def call() -> Any:
            if self._engine is None:
                raise RuntimeError("The engine is still starting; try again in a moment.")
            return await op._call(self._engine)

        future = asyncio.run_coroutine_threadsafe(call(), self._loop)

        def done(fut: Future[Any]) -> None:
            error = fut.exception() if not fut.cancelled() else RuntimeError("cancelled")
            self._sig_op_done.emit((op, None if error else fut.result(), error))

        future.add_done_callback(done)
        return future

    # ------------------------------------------------------------- GUI thread

    @Slot(object)
    def _on_host_op_done(self, done: tuple[Operation, Any, BaseException | None]) -> None:
        op, result, error = done
        op._finish(result, error)

    @Slot()
    def _on_timer_timeout(self) -> None:
        if not self._queue:
            return
        session_events: list[EngineEvent] = []
        loads: list[InstanceLoad] = []
        sync: SyncStatus | None = None
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, tuple):
                self._emit_batch(session_events, loads, sync)
                session_events, loads, sync = [], [], None
                if item[0] == "loaded":
                    self.sig_started.emit(item[1])
                    self.sig_sessions_loaded.emit(list(item[2]))
                    self.sig_instances_loaded.emit(list(item[3]))
                else:
                    self.sig_engine_failed.emit(item[1])
            elif isinstance(item, InstanceLoad):
                loads.append(item)
            elif isinstance(item, SyncStatus):
                sync = item
            else:
                session_events.append(item)
        self._emit_batch(session_events, loads, sync)

    def _emit_batch(
        self, events: list[EngineEvent], loads: list[InstanceLoad], sync: SyncStatus | None
    ) -> None:
        if events:
            self.sig_session_events.emit(events)
        if loads:
            self.sig_instance_loads.emit(loads)
        if sync is not None:
            self.sig_sync_status.emit(sync)
