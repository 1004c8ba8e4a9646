"""Webhook delivery on its own thread and loop: it needs nothing from the caller's loop."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.domain.outbox import OutboxState
from app.store import outbox as outbox_repo
from app.sync import CentralClient, OutboxDeliverer, SqlOutbox, webhook_for
from app.sync.delivery_thread import THREAD_NAME, DeliveryThread, DeliveryThreadError
from tests.sync.conftest import SECRET, qr_event

SID = "webjs_7_1800000000_abcd1234"
WAIT = 10.0  # seconds: a bound for a broken build, never a measure of speed


class Central:
    """A mock central API that notes which thread each request arrived on."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.event_ids: list[str] = []
        self.received = threading.Event()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":  # the connection opened ahead of time
            return httpx.Response(405)
        self.threads.append(threading.current_thread().name)
        self.event_ids.append(request.headers["X-Event-Id"])
        self.received.set()
        return httpx.Response(200, json={"ok": True})


def delivery(sessions: sessionmaker[Session], central: Central) -> DeliveryThread:
    def build_client() -> CentralClient:
        return CentralClient(
            central_url="http://central.test",
            secret=SECRET,
            transport=httpx.MockTransport(central.handle),
        )

    def build_deliverer(client: CentralClient) -> OutboxDeliverer:
        return OutboxDeliverer(store=SqlOutbox(sessions=sessions), client=client)

    return DeliveryThread(build_client, build_deliverer)


def enqueue(sessions: sessionmaker[Session], n: int = 1) -> str:
    hook = webhook_for(qr_event(SID, n, datetime.now(UTC)))
    assert hook is not None
    with sessions.begin() as session:
        outbox_repo.enqueue(
            session,
            event_id=hook.event_id,
            session_id=hook.session_id,
            name=hook.name,
            payload=hook.data,
            now=datetime.now(UTC),
        )
    return hook.event_id


def state_of(sessions: sessionmaker[Session], event_id: str) -> OutboxState:
    with sessions() as session:
        (item,) = [i for i in outbox_repo.list_items(session) if str(i.event_id) == event_id]
    return item.state


async def test_a_row_notified_from_another_thread_is_sent_while_the_callers_loop_is_blocked(
    sql_sessions: sessionmaker[Session],
) -> None:
    central = Central()
    async with delivery(sql_sessions, central) as thread:
        event_id = enqueue(sql_sessions)
        notifier = threading.Thread(target=thread.notify)  # as the recorder's thread does
        notifier.start()
        notifier.join()
        # This loop is held (a blocking wait on it): the webhook goes out all the same.
        assert central.received.wait(WAIT)
        assert central.threads == [THREAD_NAME]
        assert central.event_ids == [event_id]
        for _ in range(int(WAIT / 0.01)):  # its outcome is recorded on the thread too
            if await asyncio.to_thread(state_of, sql_sessions, event_id) is OutboxState.SENT:
                break
            await asyncio.sleep(0.01)
        assert await asyncio.to_thread(state_of, sql_sessions, event_id) is OutboxState.SENT
    assert not thread.running


async def test_rows_notified_after_close_stay_in_the_outbox_for_the_next_start(
    sql_sessions: sessionmaker[Session],
) -> None:
    central = Central()
    thread = delivery(sql_sessions, central)
    async with thread:
        pass
    event_id = enqueue(sql_sessions)
    thread.notify()  # after close: nothing happens, nothing raises
    assert state_of(sql_sessions, event_id) is OutboxState.PENDING
    assert central.event_ids == []
    async with delivery(sql_sessions, central):  # the next start delivers it
        assert await asyncio.to_thread(central.received.wait, WAIT)
    assert central.event_ids == [event_id]


async def test_a_delivery_that_cannot_build_fails_its_start_and_leaves_no_thread(
    sql_sessions: sessionmaker[Session],
) -> None:
    def build_client() -> CentralClient:
        raise ValueError("central_url is empty")

    thread = DeliveryThread(
        build_client,
        lambda client: OutboxDeliverer(store=SqlOutbox(sessions=sql_sessions), client=client),
    )
    with pytest.raises(DeliveryThreadError) as raised:
        await thread.start()
    assert isinstance(raised.value.__cause__, ValueError)
    assert not thread.running
    assert THREAD_NAME not in {t.name for t in threading.enumerate()}
    thread.notify()  # harmless
    await thread.aclose()  # harmless
