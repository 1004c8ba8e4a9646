"""OutboxDeliverer against the in-memory outbox and a scripted sender (no network, fake time)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from app.domain.events import SyncStatus
from app.domain.outbox import OutboxState
from app.sync import MemoryOutbox, OutboxDeliverer, Outcome, PostResult, Webhook, backoff_delay
from app.sync.payloads import webhook_for
from tests.sync.conftest import FakeClock, all_kinds, qr_event

ACCEPTED = PostResult(Outcome.ACCEPTED, 200)
DOWN = PostResult(Outcome.RETRY, None, "cannot reach central: connection refused")

Script = Callable[[Webhook, int], Awaitable[PostResult] | PostResult]


class ScriptedSender:
    """Answers with `script(webhook, attempt_number)`; records every attempt and its time."""

    def __init__(self, clock: FakeClock, script: Script | None = None) -> None:
        self.clock = clock
        self.script = script
        self.attempts: list[tuple[float, Webhook]] = []
        self.accepted: list[Webhook] = []
        self.connects = 0
        self.connect_fails = False

    async def connect(self) -> bool:
        self.connects += 1
        if self.connect_fails:
            raise RuntimeError("the sender broke while connecting")
        return True

    async def post(self, webhook: Webhook) -> PostResult:
        self.attempts.append((self.clock(), webhook))
        count = sum(1 for _, w in self.attempts if w.event_id == webhook.event_id)
        result = ACCEPTED if self.script is None else self.script(webhook, count)
        if not isinstance(result, PostResult):
            result = await result
        if result.outcome is Outcome.ACCEPTED:
            self.accepted.append(webhook)
        return result

    def accepted_names(self, session_id: str) -> list[str]:
        return [w.name for w in self.accepted if w.session_id == session_id]


def enqueue_all(store: MemoryOutbox, clock: FakeClock, session_id: str) -> list[str]:
    """One event of each kind; returns the names due for delivery (the QR is overtaken)."""
    names = []
    for event in all_kinds(session_id, clock.datetime()):
        hook = webhook_for(event)
        assert hook is not None
        store.enqueue(session_id, hook.draft(), now=clock.datetime())
        names.append(hook.name)
    return names[1:]


def make(store: MemoryOutbox, sender: ScriptedSender, clock: FakeClock, **kw) -> OutboxDeliverer:
    return OutboxDeliverer(
        store=store, client=sender, clock=clock, sleep=clock.sleep, rng=random.Random(4), **kw
    )


def test_backoff_is_full_jitter_doubling_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (4, 8.0), (9, 256.0), (10, 300.0), (60, 300.0)]:
        samples = [backoff_delay(attempt, base=1.0, cap=300.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # jitter spans the range, not a fixed step


async def test_events_of_one_session_arrive_in_order(clock: FakeClock) -> None:
    store = MemoryOutbox()
    sender = ScriptedSender(clock)
    names = enqueue_all(store, clock, "webjs_7_1_aaaaaaaa")
    await make(store, sender, clock).drain()
    assert sender.accepted_names("webjs_7_1_aaaaaaaa") == names
    states = [i.state for i in store.items()]
    assert states == [OutboxState.SUPERSEDED] + [OutboxState.SENT] * 4


async def test_a_stuck_session_does_not_hold_up_the_others(clock: FakeClock) -> None:
    store = MemoryOutbox()
    release = asyncio.Event()

    async def slow_for_a(webhook: Webhook, attempt: int) -> PostResult:
        if webhook.session_id == "webjs_7_1_aaaaaaaa":
            await release.wait()
        return ACCEPTED

    sender = ScriptedSender(clock, slow_for_a)
    enqueue_all(store, clock, "webjs_7_1_aaaaaaaa")
    names_b = enqueue_all(store, clock, "webjs_7_2_bbbbbbbb")
    drain = asyncio.create_task(make(store, sender, clock).drain())
    while len(sender.accepted_names("webjs_7_2_bbbbbbbb")) < len(names_b):
        await asyncio.sleep(0)
    # B is done while A's first event is still in flight, and A sent nothing else meanwhile.
    assert [w.session_id for _, w in sender.attempts].count("webjs_7_1_aaaaaaaa") == 1
    release.set()
    await drain
    assert len(sender.accepted_names("webjs_7_1_aaaaaaaa")) == 4


async def test_retries_back_off_with_jitter_until_accepted(clock: FakeClock) -> None:
    store = MemoryOutbox()
    sender = ScriptedSender(clock, lambda hook, n: DOWN if n <= 6 else ACCEPTED)
    enqueue_all(store, clock, "webjs_7_1_aaaaaaaa")
    await make(store, sender, clock).drain()
    first = [t for t, w in sender.attempts if w.name == "session_authenticated"]
    assert len(first) == 7
    gaps = [b - a for a, b in zip(first, first[1:], strict=False)]
    for attempt, gap in enumerate(gaps, start=1):
        assert 0.0 <= gap <= 2 ** (attempt - 1) + 1e-6  # 1 s base, doubling, full jitter
    assert len(sender.accepted) == 4  # nothing dropped: every event got through


async def test_retry_after_is_honoured(clock: FakeClock) -> None:
    store = MemoryOutbox()
    limited = PostResult(Outcome.RETRY, 429, "HTTP 429: slow down", retry_after=42.0)
    sender = ScriptedSender(clock, lambda hook, n: limited if n == 1 else ACCEPTED)
    store.enqueue(
        "s1", webhook_for(all_kinds("s1", clock.datetime())[1]).draft(), now=clock.datetime()
    )
    await make(store, sender, clock, base_delay=0.001).drain()
    (t1, _), (t2, _) = sender.attempts
    assert t2 - t1 >= 42.0


async def test_refused_event_goes_dead_with_its_reason_and_the_rest_still_flows(
    clock: FakeClock,
) -> None:
    store = MemoryOutbox()
    refused = PostResult(
        Outcome.DEAD, 422, 'HTTP 422: {"message": "data.platform must be a string"}'
    )
    sender = ScriptedSender(
        clock, lambda hook, n: refused if hook.name == "session_ready" else ACCEPTED
    )
    enqueue_all(store, clock, "s1")
    deliverer = make(store, sender, clock)
    await deliverer.drain()
    [dead] = [i for i in store.items() if i.state is OutboxState.DEAD]
    assert dead.name == "session_ready"
    assert dead.last_status == 422 and "data.platform" in dead.last_error
    assert len(sender.attempts) == 4  # a dead event is not retried by itself
    status = await deliverer.status()
    assert (status.dead, status.delivered, status.pending) == (1, 3, 0)
    assert "data.platform" in status.last_error


async def test_dead_events_are_delivered_after_retry_dead(clock: FakeClock) -> None:
    store = MemoryOutbox()
    fixed = False
    unauthorized = PostResult(Outcome.DEAD, 401, "HTTP 401: signature mismatch")
    sender = ScriptedSender(clock, lambda hook, n: ACCEPTED if fixed else unauthorized)
    names = enqueue_all(store, clock, "s1")
    deliverer = make(store, sender, clock)
    await deliverer.drain()
    assert sender.accepted == []
    fixed = True
    assert await deliverer.retry_dead() == 4
    await deliverer.drain()
    assert sender.accepted_names("s1") == names


async def test_a_qr_superseded_while_the_api_is_down_is_never_delivered(clock: FakeClock) -> None:
    store = MemoryOutbox()
    at = clock.datetime()

    def script(hook: Webhook, attempt: int) -> PostResult:
        if hook.name == "qr_code_generated" and attempt == 3:
            # While the API is still down, a newer QR and then the scan arrive.
            store.enqueue("s1", webhook_for(qr_event("s1", 2, at)).draft(), now=clock.datetime())
            store.enqueue("s1", webhook_for(all_kinds("s1", at)[1]).draft(), now=clock.datetime())
        if len(sender.attempts) <= 5:
            return DOWN
        return ACCEPTED

    sender = ScriptedSender(clock, script)
    store.enqueue("s1", webhook_for(qr_event("s1", 1, at)).draft(), now=at)
    await make(store, sender, clock).drain()
    assert sender.accepted_names("s1") == ["session_authenticated"]
    states = [(i.name, i.state) for i in store.items()]
    assert states == [
        ("qr_code_generated", OutboxState.SUPERSEDED),
        ("qr_code_generated", OutboxState.SUPERSEDED),
        ("session_authenticated", OutboxState.SENT),
    ]


async def test_status_reports_pending_age_and_last_error(clock: FakeClock) -> None:
    store = MemoryOutbox()
    reported: list[SyncStatus] = []
    sender = ScriptedSender(clock, lambda hook, n: DOWN)
    enqueue_all(store, clock, "s1")
    deliverer = make(store, sender, clock, on_status=reported.append)
    clock.advance(30)
    status = await deliverer.status()
    assert (status.pending, status.oldest_pending_age, status.last_error) == (4, 30.0, "")
    async with deliverer:
        while len(sender.attempts) < 3:
            await asyncio.sleep(0)
    status = await deliverer.status()
    assert status.pending == 4 and status.oldest_pending_age > 30.0
    assert "connection refused" in status.last_error
    assert reported and reported[-1].enabled


async def test_only_the_sessions_this_instance_runs_are_delivered(clock: FakeClock) -> None:
    store = MemoryOutbox()
    sender = ScriptedSender(clock)
    enqueue_all(store, clock, "mine")
    enqueue_all(store, clock, "theirs")
    await make(store, sender, clock, session_ids=lambda: {"mine"}).drain()
    assert {w.session_id for w in sender.accepted} == {"mine"}
    assert len(store.items(session_id="theirs")) == 5


async def test_run_picks_up_new_events_on_notify_and_stops_cleanly(clock: FakeClock) -> None:
    store = MemoryOutbox()
    sender = ScriptedSender(clock)
    deliverer = make(store, sender, clock, poll_interval=3600)
    async with deliverer:
        for n in range(1, 4):
            hook = webhook_for(all_kinds(f"s{n}", clock.datetime())[2])
            store.enqueue(f"s{n}", hook.draft(), now=clock.datetime())
            deliverer.notify()
            while len(sender.accepted) < n:
                await asyncio.sleep(0)
    assert [w.session_id for w in sender.accepted] == ["s1", "s2", "s3"]


async def test_a_failing_store_does_not_kill_the_deliverer(clock: FakeClock) -> None:
    class FlakyStore(MemoryOutbox):
        failures = 2

        async def next_due(self, now, limit, *, session_ids=None):
            if self.failures:
                self.failures -= 1
                raise RuntimeError("database is locked")
            return await super().next_due(now, limit, session_ids=session_ids)

    store = FlakyStore()
    sender = ScriptedSender(clock)
    enqueue_all(store, clock, "s1")
    deliverer = make(store, sender, clock, poll_interval=0.01)
    async with deliverer:
        while len(sender.accepted) < 4:
            await asyncio.sleep(0.005)
    assert store.failures == 0


async def test_expired_backoff_is_measured_on_the_injected_clock(clock: FakeClock) -> None:
    store = MemoryOutbox()
    item = store.enqueue(
        "s1", webhook_for(all_kinds("s1", clock.datetime())[1]).draft(), now=clock.datetime()
    )
    await store.mark_retry(
        item.event_id,
        now=clock.datetime(),
        next_attempt_at=clock.datetime() + timedelta(seconds=120),
        error="HTTP 503",
        status=503,
    )
    sender = ScriptedSender(clock)
    await make(store, sender, clock).drain()
    [(sent_at, _)] = sender.attempts
    assert sent_at >= clock.datetime().timestamp() - 1e-6 and sent_at >= 1_800_000_120.0


@pytest.mark.parametrize("bad", [0, -1])
def test_max_in_flight_must_be_positive(clock: FakeClock, bad: int) -> None:
    with pytest.raises(ValueError):
        make(MemoryOutbox(), ScriptedSender(clock), clock, max_in_flight=bad)


async def test_a_row_delivered_while_the_store_answered_is_not_sent_again(
    clock: FakeClock,
) -> None:
    class SlowReads(MemoryOutbox):
        """Answers next_due with what it read before yielding (a database round trip):
        a delivery can finish, and mark its row sent, in between."""

        async def next_due(self, now, limit, *, session_ids=None):  # type: ignore[no-untyped-def]
            due = await super().next_due(now, limit, session_ids=session_ids)
            for _ in range(20):
                await asyncio.sleep(0)
            return due

    async def slow_accept(webhook: Webhook, attempt: int) -> PostResult:
        for _ in range(5):
            await asyncio.sleep(0)
        return ACCEPTED

    store = SlowReads()
    sender = ScriptedSender(clock, slow_accept)
    deliverer = make(store, sender, clock, poll_interval=3600)
    async with deliverer:
        for event in all_kinds("s1", clock.datetime())[1:]:
            hook = webhook_for(event)
            assert hook is not None
            store.enqueue("s1", hook.draft(), now=clock.datetime())
        while store.items(session_id="s1")[-1].state is not OutboxState.SENT:
            deliverer.notify()  # new rows of other work keep waking the dispatcher
            await asyncio.sleep(0)
    sent = [w.event_id for _, w in sender.attempts]
    assert len(sent) == len(set(sent)) == 4


class StaleReadOutbox(MemoryOutbox):
    """Reproduces the double send: a `next_due` read that returns after the row was sent.

    Once armed, `next_due` reads the due rows, then lets the in-flight send finish
    (`release`) and waits until that row is marked sent before returning what it
    read: the interleaving a slow SQL read under load produces.
    """

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.release = asyncio.Event()
        self.sent = asyncio.Event()

    async def next_due(self, now, limit, *, session_ids=None):  # type: ignore[no-untyped-def]
        rows = await super().next_due(now, limit, session_ids=session_ids)
        if self.armed and rows:
            self.armed = False
            self.release.set()
            await self.sent.wait()
        return rows

    async def mark_sent(self, event_id, *, now, status):  # type: ignore[no-untyped-def]
        await super().mark_sent(event_id, now=now, status=status)
        self.sent.set()


async def test_a_row_read_as_pending_while_it_is_being_sent_is_not_sent_again(
    clock: FakeClock,
) -> None:
    store = StaleReadOutbox()
    event = all_kinds("webjs_7_1_aaaaaaaa", clock.datetime())[1]  # a state event, not a QR
    hook = webhook_for(event)
    assert hook is not None
    store.enqueue("webjs_7_1_aaaaaaaa", hook.draft(), now=clock.datetime())
    on_wire = asyncio.Event()

    async def held(webhook: Webhook, attempt: int) -> PostResult:
        on_wire.set()
        await store.release.wait()
        return ACCEPTED

    sender = ScriptedSender(clock, held)
    deliverer = make(store, sender, clock)
    drain = asyncio.create_task(deliverer.drain())
    await on_wire.wait()
    store.armed = True
    deliverer.notify()  # new rows committed elsewhere: the dispatcher reads again now
    await asyncio.wait_for(drain, 10)
    assert [w.event_id for _, w in sender.attempts] == [hook.event_id]


class CountingStore(MemoryOutbox):
    """Counts the deliverer's re-reads of single rows; can commit a row during a read."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.during_read: Callable[[], None] | None = None

    async def next_due(self, now, limit, *, session_ids=None):
        due = await super().next_due(now, limit, session_ids=session_ids)
        if self.during_read is not None:
            commit, self.during_read = self.during_read, None
            commit()  # committed (and announced) after the rows above were read
        return due

    async def get(self, event_id):
        self.gets += 1
        return await super().get(event_id)


async def test_a_qr_read_with_no_news_since_is_sent_without_reading_it_again(
    clock: FakeClock,
) -> None:
    store = CountingStore()
    sender = ScriptedSender(clock)
    store.enqueue(
        "s1", webhook_for(qr_event("s1", 1, clock.datetime())).draft(), now=clock.datetime()
    )
    await make(store, sender, clock).drain()
    assert sender.accepted_names("s1") == ["qr_code_generated"]
    assert store.gets == 0


async def test_a_qr_overtaken_while_it_was_being_read_is_not_sent(clock: FakeClock) -> None:
    store = CountingStore()
    sender = ScriptedSender(clock)
    deliverer = make(store, sender, clock)
    at = clock.datetime()
    store.enqueue("s1", webhook_for(qr_event("s1", 1, at)).draft(), now=at)

    def newer_qr() -> None:
        store.enqueue("s1", webhook_for(qr_event("s1", 2, at)).draft(), now=at)
        deliverer.notify()

    store.during_read = newer_qr
    await deliverer.drain()
    assert store.gets == 1
    assert [(i.name, i.state) for i in store.items()] == [
        ("qr_code_generated", OutboxState.SUPERSEDED),
        ("qr_code_generated", OutboxState.SENT),
    ]
    assert [w.data["qr_count"] for w in sender.accepted] == [2]


class HeldReadStore(MemoryOutbox):
    """`next_due` waits for `reads_open` (a read stuck behind a busy worker thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads_open = asyncio.Event()
        self.reads = 0

    async def next_due(self, now, limit, *, session_ids=None):
        self.reads += 1
        await self.reads_open.wait()
        return await super().next_due(now, limit, session_ids=session_ids)


async def _started(deliverer: OutboxDeliverer, store: HeldReadStore) -> None:
    await deliverer.start()
    while store.reads == 0:  # the dispatcher sits in its first read
        await asyncio.sleep(0)


async def test_a_handed_over_row_is_sent_without_reading_it_back(clock: FakeClock) -> None:
    store = HeldReadStore()
    sender = ScriptedSender(clock)
    deliverer = make(store, sender, clock, poll_interval=3600)
    await _started(deliverer, store)
    try:
        item = store.enqueue(
            "s1", webhook_for(qr_event("s1", 1, clock.datetime())).draft(), now=clock.datetime()
        )
        deliverer.notify([item])
        while not sender.accepted:
            await asyncio.sleep(0)
        assert sender.accepted_names("s1") == ["qr_code_generated"]
        assert store.row(item.event_id).state is OutboxState.SENT
        store.reads_open.set()  # the read that was under way does not send it again
        for _ in range(50):
            await asyncio.sleep(0)
    finally:
        await deliverer.aclose()
    assert len(sender.attempts) == 1


async def test_a_handed_over_row_waits_for_its_sessions_send_and_skips_other_sessions(
    clock: FakeClock,
) -> None:
    store = HeldReadStore()
    store.reads_open.set()
    release = asyncio.Event()

    async def held(webhook: Webhook, attempt: int) -> PostResult:
        await release.wait()
        return ACCEPTED

    sender = ScriptedSender(clock, held)
    deliverer = make(store, sender, clock, poll_interval=3600, session_ids=lambda: {"s1"})
    events = all_kinds("s1", clock.datetime())
    first = store.enqueue("s1", webhook_for(events[1]).draft(), now=clock.datetime())
    await deliverer.start()
    try:
        while not sender.attempts:  # the first row is on the wire
            await asyncio.sleep(0)
        second = store.enqueue("s1", webhook_for(events[2]).draft(), now=clock.datetime())
        theirs = store.enqueue("s2", webhook_for(events[1]).draft(), now=clock.datetime())
        deliverer.notify([second, theirs])
        for _ in range(50):
            await asyncio.sleep(0)
        assert [w.event_id for _, w in sender.attempts] == [str(first.event_id)]
        release.set()
        while len(sender.accepted) < 2:
            await asyncio.sleep(0)
    finally:
        await deliverer.aclose()
    assert [w.event_id for w in sender.accepted] == [str(first.event_id), str(second.event_id)]
    assert store.row(theirs.event_id).state is OutboxState.PENDING


async def test_a_handed_over_qr_overtaken_before_it_went_out_is_not_sent(
    clock: FakeClock,
) -> None:
    store = HeldReadStore()
    sender = ScriptedSender(clock)
    deliverer = make(store, sender, clock, poll_interval=3600)
    await _started(deliverer, store)
    at = clock.datetime()
    try:
        old = store.enqueue("s1", webhook_for(qr_event("s1", 1, at)).draft(), now=at)
        deliverer.notify([old])
        new = store.enqueue("s1", webhook_for(qr_event("s1", 2, at)).draft(), now=at)
        deliverer.notify([new])  # before the first send task ran
        store.reads_open.set()
        while not sender.accepted:
            await asyncio.sleep(0)
        for _ in range(50):
            await asyncio.sleep(0)
    finally:
        await deliverer.aclose()
    assert [w.data["qr_count"] for _, w in sender.attempts] == [2]
    assert store.row(old.event_id).state is OutboxState.SUPERSEDED


async def test_handed_over_rows_respect_max_in_flight(clock: FakeClock) -> None:
    store = HeldReadStore()
    release = asyncio.Event()

    async def held(webhook: Webhook, attempt: int) -> PostResult:
        await release.wait()
        return ACCEPTED

    sender = ScriptedSender(clock, held)
    deliverer = make(store, sender, clock, poll_interval=3600, max_in_flight=2)
    await _started(deliverer, store)
    try:
        event = all_kinds("x", clock.datetime())[1]
        items = [
            store.enqueue(f"s{n}", webhook_for(event).draft(), now=clock.datetime())
            for n in range(3)
        ]
        deliverer.notify(items)
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(sender.attempts) == 2
        release.set()
        store.reads_open.set()  # the third one is found by the read, as usual
        while len(sender.accepted) < 3:
            await asyncio.sleep(0)
    finally:
        await deliverer.aclose()
    assert len(sender.attempts) == 3


class ReadCountingStore(MemoryOutbox):
    """Counts the deliverer's reads of due rows."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def next_work(self, now, limit, *, session_ids=None):  # type: ignore[no-untyped-def]
        self.reads += 1
        return await super().next_work(now, limit, session_ids=session_ids)


async def _idle(deliverer: OutboxDeliverer, store: ReadCountingStore) -> None:
    """Started, and past its first read of an empty table."""
    await deliverer.start()
    while store.reads == 0:
        await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_handed_over_row_is_sent_without_a_read_beside_it(clock: FakeClock) -> None:
    store = ReadCountingStore()
    release = asyncio.Event()

    async def held(webhook: Webhook, attempt: int) -> PostResult:
        await release.wait()
        return ACCEPTED

    sender = ScriptedSender(clock, held)
    deliverer = make(store, sender, clock, poll_interval=3600, defer_read=3600)
    await _idle(deliverer, store)
    try:
        at = clock.datetime()
        item = store.enqueue("s1", webhook_for(qr_event("s1", 1, at)).draft(), now=at)
        deliverer.notify([item])
        deliverer.notify()  # the recorder's wake after its batch: no read while on the wire
        while not sender.attempts:
            await asyncio.sleep(0)
        for _ in range(50):
            await asyncio.sleep(0)
        assert store.reads == 1
        behind = store.enqueue("s1", webhook_for(all_kinds("s1", at)[2]).draft(), now=at)
        deliverer.notify()  # committed behind the QR on the wire: found once the QR settles
        release.set()
        while len(sender.accepted) < 2:
            await asyncio.sleep(0)
        assert store.reads == 2  # the one after the QR settled, which found the row behind it
    finally:
        await deliverer.aclose()
    assert [w.event_id for w in sender.accepted] == [str(item.event_id), str(behind.event_id)]


async def test_news_while_a_send_hangs_is_read_after_defer_read(clock: FakeClock) -> None:
    store = ReadCountingStore()
    release = asyncio.Event()

    async def held(webhook: Webhook, attempt: int) -> PostResult:
        if webhook.session_id == "s1":
            await release.wait()
        return ACCEPTED

    sender = ScriptedSender(clock, held)
    deliverer = make(store, sender, clock, poll_interval=3600, defer_read=0)
    await _idle(deliverer, store)
    try:
        at = clock.datetime()
        hung = store.enqueue("s1", webhook_for(all_kinds("s1", at)[1]).draft(), now=at)
        deliverer.notify([hung])
        while not sender.attempts:
            await asyncio.sleep(0)
        other = store.enqueue("s2", webhook_for(all_kinds("s2", at)[1]).draft(), now=at)
        deliverer.notify()  # news with no hand-over (another writer): not held up for good
        while not sender.accepted:
            await asyncio.sleep(0)
        assert [w.event_id for w in sender.accepted] == [str(other.event_id)]
        release.set()
        while len(sender.accepted) < 2:
            await asyncio.sleep(0)
    finally:
        await deliverer.aclose()


@pytest.mark.parametrize("fails", [False, True])
async def test_a_running_deliverer_opens_its_connection_before_anything_is_due(
    clock: FakeClock, fails: bool
) -> None:
    store = MemoryOutbox()
    sender = ScriptedSender(clock)
    sender.connect_fails = fails
    deliverer = make(store, sender, clock)
    await deliverer.start()
    try:
        await _until(lambda: sender.connects > 0)
        assert sender.connects == 1, "connected once, with nothing to send yet"
        assert not sender.attempts
        # A connection that could not be opened ahead of time changes nothing else.
        enqueue_all(store, clock, "webjs_7_1_aaaaaaaa")
        deliverer.notify()
        await _until(lambda: len(sender.accepted) == 4)
    finally:
        await deliverer.aclose()
    assert sender.connects == 1


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for `condition` (a bound for a broken deliverer, not a timing check)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
