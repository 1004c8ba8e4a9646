"""The outbox deliverer: sends each session's webhooks in order, retrying until accepted.

A dispatcher loop asks the store for due rows (at most one per session: its
oldest pending row) and sends each in its own task, owned by a TaskGroup:
- per-session order: a session's next row becomes due only once the one
  before it was accepted (`sent`), refused for good (`dead`) or superseded,
  and a session never has more than one request on the wire;
- sessions never wait for each other; at most `max_in_flight` requests run
  at once so the connection pool never times out;
- 429, 5xx, timeouts and connection errors: retried with exponential backoff
  and full jitter (`base_delay` doubling up to `max_delay`), or after the
  server's `Retry-After`; no attempt cap;
- other 4xx: `dead`, with the status and the start of the answer kept;
- a QR row that anything newer of its session overtook was already marked
  `superseded` by the store when the newer row was enqueued; a QR is checked
  again just before it is sent when new rows were committed (`notify()`)
  since the read that picked it, so one picked a moment before it was
  overtaken is not sent late either. Without such news the read is still
  current and the QR goes out at once: under CPU load each extra store read
  is a trip through a worker thread that can cost tens of milliseconds.
  (A row another process commits without telling this deliverer can
  overtake a QR in that one read's window and the QR still goes out, just
  before the row that overtook it, in order);
- a row is never sent twice: a `next_due` read that was under way while a
  send finished may return that row as still pending, so rows settled during
  the read are skipped (the read after it sees them as they are);
- `notify(items)` may hand over rows just committed that were then their
  session's oldest pending row (the store says which). Each is sent at once,
  without reading it back, when nothing of its session is on the wire, its
  session is one this deliverer serves and there is room in flight;
  otherwise the wake-up's read finds it as usual. Such a row was committed
  first, so a crash still delivers it from the table; it counts as read at
  its `notify`, so a row committed after it (which may supersede it) makes
  it checked again before it goes out, as above;
- reads of due rows are kept off the wire's path: a `notify(items)` needs
  none (a row committed with them that does not head its session waits
  behind a pending row of its session, and is read when that row settles),
  and a bare `notify()` while sends are on the wire is read when the first
  of them settles (each settled send is followed by a read anyway), or
  after `DEFER_READ` at the latest. Under CPU load a read beside a send
  holds the interpreter lock the send needs, and two reads cost twice one;
  each read fetches the due rows and the next wake-up in one unit of work.

The clock, sleep and random source are injectable so tests run in
milliseconds. Use `async with deliverer:` (or `start()` / `aclose()`) in a
long-running process, `drain()` for one-shot delivery; call `notify()` after
committing new outbox rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Protocol

from app.domain.events import SyncStatus
from app.domain.outbox import OutboxItem, OutboxState
from app.sync.client import Outcome, PostResult
from app.sync.outbox import OutboxStore
from app.sync.payloads import Webhook

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFER_READ = 0.25  # seconds a bare notify() waits at most for a send on the wire to settle


class Sender(Protocol):
    """What the deliverer needs from `CentralClient`."""

    async def post(self, webhook: Webhook) -> PostResult: ...

    async def connect(self) -> bool: ...


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))] for attempt 1, 2, ..."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 1) - 1, 32))
    return rng.uniform(0.0, ceiling)


class OutboxDeliverer:
    """Delivers the outbox to the central API until closed."""

    def __init__(
        self,
        *,
        store: OutboxStore,
        client: Sender,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        poll_interval: float = 5.0,
        max_in_flight: int = 32,
        defer_read: float = DEFER_READ,
        session_ids: Callable[[], Collection[str] | None] | None = None,
        on_status: Callable[[SyncStatus], None] | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be 1 or more")
        self._store = store
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._base = base_delay
        self._cap = max_delay
        self._poll = poll_interval
        self._max_in_flight = max_in_flight
        self._defer_read_for = defer_read
        self._session_ids = session_ids
        self._on_status = on_status
        # session id -> its one send in flight. Keyed by session, not row: a row
        # superseded mid-flight must not let the next row overtake it on the wire.
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        # Rows whose send finished while a `next_due` read was in progress: that read
        # may have seen them still pending, so they are not dispatched from it again.
        self._settled: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._enqueued = 0  # notify() calls so far: news of rows committed since a read
        self._deferred: asyncio.TimerHandle | None = None  # a bare notify's read, postponed
        self._runner: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None  # while `_loop` runs: where sends live
        self._transient_error = ""  # the last retryable failure; cleared by a success
        self._dead_error = ""  # the last refusal; cleared by retry_dead
        self._seen_outcome = False
        self._changes = 0

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start delivering in a task this deliverer owns; `aclose()` stops it."""
        if self._runner is None:
            self._runner = asyncio.create_task(self.run(), name="outbox-deliverer")

    async def aclose(self) -> None:
        """Stop sending; unsent events stay in the outbox for the next start."""
        runner, self._runner = self._runner, None
        self._cancel_deferred()
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    async def __aenter__(self) -> OutboxDeliverer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def notify(self, items: Iterable[OutboxItem] = ()) -> None:
        """New outbox rows were committed: look now rather than at the next poll.

        `items` are committed rows that were their session's oldest pending row
        when committed; they are sent now when their session is idle (see above).
        Any other row committed with them waits behind a pending row of its own
        session, so it is read when that row settles: no read is needed now.
        Without items, the table is read at once, or when the first send on the
        wire settles (at most `DEFER_READ` later), so a read never runs beside it.
        """
        self._enqueued += 1
        handed = False
        if self._group is not None:
            sessions: Collection[str] | None = None
            for item in items:
                handed = True
                if sessions is None and self._session_ids is not None:
                    sessions = self._session_ids()
                if item.state is not OutboxState.PENDING or (
                    sessions is not None and item.session_id not in sessions
                ):
                    continue
                self._start(self._group, item, self._enqueued)
        if handed:
            return
        if self._in_flight and self._group is not None:
            self._defer_read()
        else:
            self._wake.set()

    def _defer_read(self) -> None:
        """Read after the next send settles (its `_deliver` wakes the loop), or after
        `defer_read` seconds (`DEFER_READ`) if none settles by then."""
        if self._deferred is None:
            self._deferred = asyncio.get_running_loop().call_later(
                self._defer_read_for, self._read_now
            )

    def _read_now(self) -> None:
        self._deferred = None
        self._wake.set()

    def _cancel_deferred(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None

    def _start(self, group: asyncio.TaskGroup, item: OutboxItem, read_at: int) -> bool:
        """Send `item` in a task unless its session has one on the wire or none is free."""
        if item.session_id in self._in_flight or len(self._in_flight) >= self._max_in_flight:
            return False
        self._in_flight[item.session_id] = group.create_task(
            self._deliver(item, read_at), name=f"webhook:{item.session_id}"
        )
        return True

    # ----------------------------------------------------------------- run

    async def run(self) -> None:
        """Deliver until cancelled, waking on notify(), on each outcome and when rows fall due.

        The client's connection is opened at once, beside the first read
        (`CentralClient.connect`), so the first QR's webhook finds it open."""
        await self._loop(until_idle=False, connect=True)

    async def drain(self) -> None:
        """Deliver until nothing pending is left (dead rows stay dead); backoff via `sleep`."""
        await self._loop(until_idle=True)

    async def _loop(self, *, until_idle: bool, connect: bool = False) -> None:
        published = -1
        async with asyncio.TaskGroup() as group:
            self._group = group
            if connect:
                group.create_task(self._connect(), name="central-connect")
            try:
                while True:
                    self._wake.clear()
                    wait = await self._dispatch(group, until_idle=until_idle)
                    if self._on_status is not None and published != self._changes:
                        published = self._changes
                        await self._publish()
                    if until_idle and wait is None and not self._in_flight:
                        return
                    await self._pause(wait)
            finally:
                self._group = None

    async def _connect(self) -> None:
        try:
            await self._client.connect()
        except Exception:  # ahead of time only: the first send connects anyway
            log.debug("opening the connection ahead of time failed", exc_info=True)

    async def _publish(self) -> None:
        assert self._on_status is not None
        try:
            self._on_status(await self.status())
        except Exception:  # a broken listener must not stop delivery
            log.exception("sync status listener failed")

    async def _dispatch(self, group: asyncio.TaskGroup, *, until_idle: bool) -> float | None:
        """Start every due row that is not in flight; returns seconds until more fall due.

        None means nothing is scheduled; 0 means only rows already in flight are due.
        A store error is retried after `poll_interval` (raised at once by `drain()`).
        """
        sessions = self._session_ids() if self._session_ids is not None else None
        now = self._now()
        self._cancel_deferred()  # this read sees every row committed before it
        try:
            self._settled.clear()  # sends settled before this read are seen by it
            read_at = self._enqueued
            due, wakeup = await self._store.next_work(
                now, self._max_in_flight, session_ids=sessions
            )
            for item in due:
                if len(self._in_flight) >= self._max_in_flight:
                    break
                if item.event_id in self._settled:
                    continue  # read as pending before it was marked sent: never twice
                self._start(group, item, read_at)
        except Exception as exc:  # a locked or unreachable database: try again later
            if until_idle:
                raise
            self._store_failed(exc)
            return self._poll
        if wakeup is None:
            return None
        return max(0.0, (wakeup - now).total_seconds())

    async def _pause(self, wait: float | None) -> None:
        """Until notify(), an outcome, or `wait` seconds (through the injected sleep)."""
        if wait is not None and wait > 0 and not self._wake.is_set():
            sleeper = asyncio.ensure_future(self._sleep(min(wait, self._poll)))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, waker):
                    task.cancel()
                await asyncio.gather(sleeper, waker, return_exceptions=True)
            return
        # Nothing scheduled, or only in-flight rows due: their outcome (or a poll) wakes us.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll):
                await self._wake.wait()

    # ------------------------------------------------------------ delivery

    async def _deliver(self, item: OutboxItem, read_at: int) -> None:
        try:
            stale = self._enqueued != read_at  # rows committed since `item` was read
            if item.supersedable and stale and not await self._still_pending(item):
                return  # superseded after it was picked: a stale QR or code is never sent
            result = await self._client.post(Webhook.from_item(item))
            self._seen_outcome = True
            await self._record(item, result)
        except Exception as exc:  # never lose the loop to one row; it stays pending
            self._store_failed(exc)
        finally:
            self._settled.add(item.event_id)
            self._in_flight.pop(item.session_id, None)
            self._changes += 1
            self._wake.set()

    async def _still_pending(self, item: OutboxItem) -> bool:
        current = await self._store.get(item.event_id)
        return current is not None and current.state is OutboxState.PENDING

    async def _record(self, item: OutboxItem, result: PostResult) -> None:
        now = self._now()
        if result.outcome is Outcome.ACCEPTED:
            await self._store.mark_sent(item.event_id, now=now, status=result.status or 200)
            self._transient_error = ""
            return
        if result.outcome is Outcome.DEAD:
            await self._store.mark_dead(
                item.event_id, now=now, status=result.status, error=result.detail
            )
            self._dead_error = f"{item.name} for {item.session_id}: {result.detail}"
            log.warning("webhook refused, kept as dead: %s", self._dead_error)
            return
        delay = result.retry_after
        if delay is None:
            delay = backoff_delay(item.attempts + 1, base=self._base, cap=self._cap, rng=self._rng)
        await self._store.mark_retry(
            item.event_id,
            now=now,
            next_attempt_at=datetime.fromtimestamp(self._clock() + delay, UTC),
            error=result.detail,
            status=result.status,
        )
        self._transient_error = f"{item.name} for {item.session_id}: {result.detail}"
        log.info("webhook not delivered, retry in %.1f s: %s", delay, self._transient_error)

    def _store_failed(self, exc: Exception) -> None:
        self._transient_error = f"outbox error: {type(exc).__name__}: {exc}"
        log.error("outbox delivery error; will try again", exc_info=exc)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # ------------------------------------------------------------- metrics

    async def status(self) -> SyncStatus:
        """Pending count, oldest pending age, delivered, dead and the last error.

        The last error is the latest retryable failure until a delivery succeeds,
        else the latest refusal while it waits for `retry_dead`; before this
        deliverer has sent anything, the store's latest error if work is left.
        """
        metrics = await self._store.metrics(self._now())
        last_error = self._transient_error or self._dead_error
        if not self._seen_outcome and not last_error and (metrics.pending or metrics.dead):
            last_error = metrics.last_error
        return SyncStatus(
            enabled=True,
            pending=metrics.pending,
            oldest_pending_age=metrics.oldest_pending_age,
            delivered=metrics.delivered,
            dead=metrics.dead,
            last_error=last_error,
        )

    async def retry_dead(self, *, event_ids: Collection[uuid.UUID] | None = None) -> int:
        """Requeue dead rows (after the operator fixed the cause) and deliver them now."""
        count = await self._store.retry_dead(now=self._now(), event_ids=event_ids)
        self._dead_error = ""
        self._changes += 1
        self.notify()
        return count
