"""Where an instance's events go: the store (state, timeline, outbox in one step),
the `/api/events` stream, and back out of the store on the next start."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from app.domain.outbox import OutboxState
from app.domain.states import Reason, SessionState
from app.engine.instance.http_api import build_app
from app.serving import serve_async
from app.store import accounts, outbox, timeline
from tests.engine.instance_harness import TOKEN, api_client, running_instance

WS = 42
SID = "webjs_42_1700000000_abcd1234"


async def test_state_changes_reach_accounts_timeline_and_outbox(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        h.host.scan(SID, "+62 812-3456-7890")
        h.host.heartbeat(SID, 15.0)
        await h.instance.flush()
        with h.store._sessions() as session:
            account = accounts.get_account(session, SID)
            steps = timeline.list_events(session, SID)
            rows = outbox.list_items(session, session_id=SID)
    assert account.state is SessionState.CONNECTED
    assert account.phone_number == "6281234567890"
    assert account.connected_at is not None
    assert account.last_heartbeat_at is not None and account.heartbeat_latency_ms == 15.0
    assert [(s.previous, s.state) for s in steps] == [
        (None, SessionState.STOPPED),
        (SessionState.STOPPED, SessionState.STARTING),
        (SessionState.STARTING, SessionState.QR),
        (SessionState.QR, SessionState.PAIRING),
        (SessionState.PAIRING, SessionState.CONNECTED),
    ]
    assert [(r.name, r.state) for r in rows] == [
        ("qr_code_generated", OutboxState.SUPERSEDED),
        ("session_authenticated", OutboxState.PENDING),
        ("session_ready", OutboxState.PENDING),
    ]
    assert rows[0].payload["qr_code"].startswith("data:image/png;base64,")
    assert rows[2].payload["phone_number"] == "6281234567890"
    assert h.instance.owns_session(SID)


async def test_restart_restores_connected_sessions_without_a_qr(tmp_path: Path) -> None:
    snapshots: set[str] = set()
    async with running_instance(tmp_path, snapshots=snapshots) as h, api_client(h.instance) as c:
        await c.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        other = "webjs_42_1700000000_qqqqqqqq"
        await c.post("/api/sessions", json={"workspace_id": WS, "session_id": other})
        h.host.scan(SID)
    with h.store._sessions() as session:
        after_stop = accounts.get_account(session, SID)
    assert after_stop.state is SessionState.STOPPED
    assert after_stop.reason is Reason.INSTANCE_RESTART

    async with running_instance(tmp_path, snapshots=snapshots) as h2:
        for _ in range(100):
            if any(i.state is SessionState.CONNECTED for i in h2.host.sessions()):
                break
            await asyncio.sleep(0.01)
        await h2.instance.flush()
        assert h2.host.calls == [("start", SID)]  # the never-linked one waits for an operator
        with h2.store._sessions() as session:
            restored = accounts.get_account(session, SID)
            qr_rows = [
                r
                for r in outbox.list_items(session, session_id=SID)
                if r.name == "qr_code_generated"
            ]
        assert restored.state is SessionState.CONNECTED
        assert len(qr_rows) == 1  # only the first login's QR


async def test_a_killed_instance_leaves_sessions_that_the_next_start_resets(
    tmp_path: Path,
) -> None:
    snapshots: set[str] = set()
    async with running_instance(tmp_path, snapshots=snapshots) as h, api_client(h.instance) as c:
        await c.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        h.host.scan(SID)
        await h.instance.flush()
        # Simulate kill -9: the host vanishes without emitting its stops.
        h.host._sessions.clear()
    with h.store._sessions() as session:
        assert accounts.get_account(session, SID).state is SessionState.CONNECTED
    async with running_instance(tmp_path, snapshots=snapshots) as h2:
        for _ in range(100):
            if h2.host.sessions():
                break
            await asyncio.sleep(0.01)
        await h2.instance.flush()
        with h2.store._sessions() as session:
            steps = timeline.list_events(session, SID)
        assert steps[-1].state is SessionState.CONNECTED
        assert any(s.reason is Reason.INSTANCE_RESTART for s in steps)


async def _read_events(response: httpx.Response, count: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
            if len(events) >= count:
                break
    return events


async def test_event_stream_delivers_state_and_qr_live(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h:
        async with serve_async(build_app(h.instance)) as url:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
                async with client.stream("GET", "/api/events") as stream:
                    assert stream.status_code == 200
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    created = await client.post(
                        "/api/sessions", json={"workspace_id": WS, "session_id": SID}
                    )
                    assert created.status_code == 201
                    async with asyncio.timeout(5):
                        live = await _read_events(stream, 3)
                # Reconnecting with Last-Event-ID replays what came after it.
                first_id = str(live[0]["id"])
                async with client.stream(
                    "GET", "/api/events", headers={"Last-Event-ID": first_id}
                ) as again:
                    async with asyncio.timeout(5):
                        replay = await _read_events(again, 2)
                async with client.stream(
                    "GET", "/api/events", params={"types": "qr", "last_event_id": "0"}
                ) as only_qr:
                    async with asyncio.timeout(5):
                        qrs = await _read_events(only_qr, 1)
    assert [(e["type"], e.get("state")) for e in live] == [
        ("state", "starting"),
        ("state", "qr"),
        ("qr", None),
    ]
    for event in live:
        assert event["session_id"] == SID
        assert isinstance(event["at"], str)
    assert str(live[2]["qr"]).startswith("ref1-")
    assert "expires_at" in live[2]
    assert [e["id"] for e in replay] == [live[1]["id"], live[2]["id"]]
    assert qrs[0]["type"] == "qr"


async def test_event_stream_needs_the_token(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance, auth=False) as client:
        response = await client.get("/api/events")
    assert response.status_code == 401


async def test_a_restore_waits_for_a_folder_an_exiting_instance_still_holds(
    tmp_path: Path,
) -> None:
    # Issue 10, item 1: after the supervisor died, its instance may still be
    # snapshotting (holding the folder lock) when the next one restores.
    snapshots: set[str] = set()
    async with running_instance(tmp_path, snapshots=snapshots) as h, api_client(h.instance) as c:
        await c.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        h.host.scan(SID)
    locked = {SID}
    async with running_instance(tmp_path, snapshots=snapshots, locked=locked) as h2:
        async with asyncio.timeout(30):
            while h2.host.calls.count(("start", SID)) < 2:  # refused, and asked again
                await asyncio.sleep(0.01)
        assert not h2.host.sessions()
        locked.clear()  # the old instance exited
        async with asyncio.timeout(30):
            while not any(i.state is SessionState.CONNECTED for i in h2.host.sessions()):
                await asyncio.sleep(0.01)
