"""End to end: SQLite outbox -> deliverer -> CentralClient -> reference central API (in-process).

The central API runs on a real loopback socket on the test's loop and shares
the test's fake clock, so outages "for a while" and backoffs of minutes take
milliseconds. Its checks are written independently of `app.sync`, so a
signature or payload bug here fails as it would against the platform.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.domain.events import EngineEvent
from app.domain.outbox import OutboxState
from app.sandbox.central import serve_central
from app.sandbox.central_state import CentralState
from app.store import outbox as outbox_repo
from app.sync import CentralClient, OutboxDeliverer, SqlOutbox, webhook_for
from tests.sync.conftest import SECRET, FakeClock, all_kinds, qr_event

INSTANCE_URL = "http://127.0.0.1:9001"


@pytest.fixture
async def central(clock: FakeClock) -> AsyncIterator[tuple[str, CentralState]]:
    async with serve_central(SECRET, clock=clock) as served:
        yield served


def enqueue(sessions: sessionmaker[Session], clock: FakeClock, event: EngineEvent) -> str:
    """What the engine does: write the webhook in the state change's transaction."""
    hook = webhook_for(event)
    assert hook is not None
    with sessions.begin() as session:
        outbox_repo.enqueue(
            session,
            event_id=hook.event_id,
            session_id=hook.session_id,
            name=hook.name,
            payload=hook.data,
            now=clock.datetime(),
        )
    return hook.event_id


def rows(sessions: sessionmaker[Session], session_id: str | None = None) -> list[Any]:
    with sessions() as session:
        return outbox_repo.list_items(session, session_id=session_id, limit=10_000)


def make_deliverer(
    sessions: sessionmaker[Session], client: CentralClient, clock: FakeClock, **kw: Any
) -> OutboxDeliverer:
    return OutboxDeliverer(
        store=SqlOutbox(sessions=sessions),
        client=client,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(7),
        **kw,
    )


def make_client(
    url: str, clock: FakeClock, secret: str = SECRET, timeout: float = 5.0, **kw: Any
) -> CentralClient:
    return CentralClient(
        central_url=url,
        secret=secret,
        instance_url=INSTANCE_URL,
        timeout=timeout,
        clock=clock,
        **kw,
    )


def assert_delivered_in_order_once_in_effect(
    state: CentralState, sessions: sessionmaker[Session], *, refused_before: bool = False
) -> None:
    """Every unsuperseded row arrived, in outbox order per session, and no replay changed state."""
    for session_id in {r.session_id for r in rows(sessions)}:
        expected = [
            str(r.event_id)
            for r in rows(sessions, session_id)
            if r.state is not OutboxState.SUPERSEDED
        ]
        assert all(
            r.state is OutboxState.SENT
            for r in rows(sessions, session_id)
            if r.state is not OutboxState.SUPERSEDED
        )
        received = [e.event_id for e in state.events(session_id=session_id)]
        first_arrivals = list(dict.fromkeys(received))
        assert first_arrivals == expected
    assert not [e for e in state.events() if e.duplicate and e.changed_state]
    assert refused_before or state.rejections() == []


# ------------------------------------------------------------------ contract


async def test_each_event_type_arrives_signed_with_the_documented_fields(
    central, clock: FakeClock, sql_sessions
) -> None:
    url, state = central
    events = all_kinds("webjs_7_1_abcdefgh", clock.datetime())
    async with make_client(url, clock) as client:
        deliverer = make_deliverer(sql_sessions, client, clock)
        ids = []
        for event in events:  # one at a time, so the QR is current when it is sent
            ids.append(enqueue(sql_sessions, clock, event))
            await deliverer.drain()
    received = state.events()
    assert [e.event for e in received] == [
        "qr_code_generated",
        "session_authenticated",
        "session_ready",
        "session_disconnected",
        "session_error",
    ]
    assert [e.event_id for e in received] == ids
    for entry, event in zip(received, events, strict=True):
        hook = webhook_for(event)
        assert hook is not None
        expected = {**hook.data, "event_id": entry.event_id}  # the id is signed too
        assert entry.data == expected  # qr_code included: a 256 px PNG the receiver decoded
        assert entry.instance_url == INSTANCE_URL
        assert entry.timestamp == int(clock())
    assert state.rejections() == []
    account = state.account("webjs_7_1_abcdefgh")
    assert (account.status, account.phone_number) == ("failed", "6281234567890")


async def test_pull_lists_the_accounts_the_platform_expects(central, clock: FakeClock) -> None:
    url, _ = central
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.post(
            "/central/accounts",
            json=[{"session_id": "webjs_1_1_aaaaaaaa", "workspace_id": 1, "phone_number": "62811"}],
        )
    async with make_client(url, clock) as client:
        [account] = await client.active_accounts()
    assert (account.session_id, account.workspace_id, account.phone_number) == (
        "webjs_1_1_aaaaaaaa",
        1,
        "62811",
    )


# ------------------------------------------------------------------ outages


async def test_refused_for_a_while_then_every_event_arrives_in_order(
    central, clock: FakeClock, sql_sessions
) -> None:
    url, state = central
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.post("/central/faults", json={"kind": "refuse", "duration": 600})
    for n in range(3):
        for event in all_kinds(f"webjs_7_{n}_session{n}", clock.datetime()):
            enqueue(sql_sessions, clock, event)
    start = clock()
    async with make_client(url, clock) as client:
        await make_deliverer(sql_sessions, client, clock).drain()
    assert clock() - start >= 600  # the outage really lasted (in fake time)
    assert_delivered_in_order_once_in_effect(state, sql_sessions)
    assert len(state.events()) == 12


async def test_errors_and_timeouts_mid_stream_lose_and_repeat_nothing_in_effect(
    central, clock: FakeClock, sql_sessions
) -> None:
    url, state = central
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.post("/central/faults", json={"kind": "error", "status": 502, "count": 3})
        await raw.post("/central/faults", json={"kind": "slow", "delay": 0.3, "count": 2})
    for n in range(2):
        for event in all_kinds(f"webjs_7_{n}_session{n}", clock.datetime()):
            enqueue(sql_sessions, clock, event)
    # A client timeout below the slow answer: the server may still apply the
    # event after we gave up, so the retry arrives as a duplicate. Per-session
    # order makes that duplicate harmless, which is what this test proves.
    async with make_client(url, clock, timeout=0.1) as client:
        await make_deliverer(sql_sessions, client, clock).drain()
    assert_delivered_in_order_once_in_effect(state, sql_sessions)


async def test_retry_after_is_honoured(central, clock: FakeClock, sql_sessions) -> None:
    url, state = central
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.post(
            "/central/faults", json={"kind": "rate_limit", "retry_after": 45, "count": 1}
        )
    enqueue(sql_sessions, clock, all_kinds("s1", clock.datetime())[1])
    start = clock()
    async with make_client(url, clock) as client:
        await make_deliverer(sql_sessions, client, clock, base_delay=0.001).drain()
    [entry] = state.events()
    assert entry.received_at - start >= 45
    [row] = rows(sql_sessions)
    assert (row.state, row.attempts) == (OutboxState.SENT, 2)


async def test_a_qr_superseded_while_the_api_is_down_is_never_delivered(
    central, clock: FakeClock, sql_sessions
) -> None:
    url, state = central
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.post("/central/faults", json={"kind": "refuse"})
        enqueue(sql_sessions, clock, qr_event("s1", 1, clock.datetime()))
        async with make_client(url, clock) as client:
            deliverer = make_deliverer(sql_sessions, client, clock)
            async with deliverer:
                while rows(sql_sessions)[0].attempts < 3:
                    await asyncio.sleep(0.01)
                enqueue(sql_sessions, clock, qr_event("s1", 2, clock.datetime()))
                enqueue(sql_sessions, clock, all_kinds("s1", clock.datetime())[1])
                deliverer.notify()
                # Lift the outage only once the scan event was tried (and refused):
                # from then on the QRs are history, whatever was on the wire before.
                while rows(sql_sessions)[2].attempts < 1:
                    await asyncio.sleep(0.01)
                await raw.delete("/central/faults")
                while not state.events():
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)
    assert [e.event for e in state.events()] == ["session_authenticated"]
    assert [r.state for r in rows(sql_sessions)] == [
        OutboxState.SUPERSEDED,
        OutboxState.SUPERSEDED,
        OutboxState.SENT,
    ]


# ------------------------------------------------------------ refusal, restart


async def test_wrong_secret_goes_dead_with_a_clear_reason_and_nothing_is_lost(
    central, clock: FakeClock, sql_sessions
) -> None:
    url, state = central
    for event in all_kinds("s1", clock.datetime()):
        enqueue(sql_sessions, clock, event)
    async with make_client(url, clock, secret="an-old-secret") as client:
        deliverer = make_deliverer(sql_sessions, client, clock)
        await deliverer.drain()
        status = await deliverer.status()
    assert state.events() == []
    assert status.dead == 4 and status.pending == 0
    assert "HTTP 401" in status.last_error and "signature mismatch" in status.last_error
    assert "webhook_secret" in status.last_error  # says what to check
    dead = [r for r in rows(sql_sessions) if r.state is OutboxState.DEAD]
    assert len(dead) == 4 and all(r.last_status == 401 for r in dead)
    assert all("signature mismatch" in r.last_error for r in dead)

    # The operator fixes the secret, restarts and retries the dead events.
    async with make_client(url, clock) as client:
        deliverer = make_deliverer(sql_sessions, client, clock)
        assert await deliverer.retry_dead() == 4
        await deliverer.drain()
    assert [e.event for e in state.events()] == [
        "session_authenticated",
        "session_ready",
        "session_disconnected",
        "session_error",
    ]
    assert_delivered_in_order_once_in_effect(state, sql_sessions, refused_before=True)
    assert {r.reason for r in state.rejections()} == {"signature mismatch"}


async def test_events_written_before_a_crash_are_sent_after_restart(
    central, clock: FakeClock, sql_sessions
) -> None:
    url, state = central
    for event in all_kinds("s1", clock.datetime()):
        enqueue(sql_sessions, clock, event)

    # First run: the process dies while the first webhook is in flight.
    arrived = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await asyncio.Event().wait()  # no answer, ever
        raise AssertionError("unreachable")

    async with make_client(url, clock, transport=httpx.MockTransport(hang)) as client:
        deliverer = make_deliverer(sql_sessions, client, clock)
        await deliverer.start()
        await arrived.wait()
        await deliverer.aclose()
    assert all(r.state is not OutboxState.SENT for r in rows(sql_sessions))

    # Second run, fresh objects on the same database file.
    async with make_client(url, clock) as client:
        await make_deliverer(sql_sessions, client, clock).drain()
    assert len(state.events()) == 4
    assert_delivered_in_order_once_in_effect(state, sql_sessions)


async def test_the_secret_never_appears_in_logs_errors_or_reprs(
    central, clock: FakeClock, sql_sessions, caplog: pytest.LogCaptureFixture
) -> None:
    url, state = central
    wrong = "wrong-secret-93be1d"
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.post("/central/faults", json={"kind": "refuse", "count": 2})
        await raw.post("/central/faults", json={"kind": "rate_limit", "count": 1})
    texts: list[str] = []
    for secret in (wrong, SECRET):
        for event in all_kinds(f"s-{secret[:5]}", clock.datetime()):
            enqueue(sql_sessions, clock, event)
        async with make_client(url, clock, secret=secret) as client:
            deliverer = make_deliverer(sql_sessions, client, clock)
            await deliverer.drain()
            texts += [repr(client), repr(deliverer), repr(await deliverer.status())]
            texts += [r.last_error for r in rows(sql_sessions)]
            with pytest.raises(Exception) as info:
                await make_client("http://127.0.0.1:9", clock, secret=secret).active_accounts()
            texts.append(str(info.value))
    texts.append(caplog.text)
    everything = "\n".join(texts)
    assert "HTTP 401" in everything and "cannot reach" in everything  # the paths did run
    assert SECRET not in everything
    assert wrong not in everything
