"""The engine's small parts: instance client, SSE reading, event fan-out, live view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.domain.events import (
    QrIssued,
    SessionHeartbeat,
    SessionStateChanged,
    event_to_dict,
)
from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.engine.control.fanout import Fanout
from app.engine.control.live_view import LiveView
from app.engine.supervisor.client import InstanceClient, InstanceRefused, InstanceUnavailable

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _state(sid: str, state: SessionState, at: datetime = NOW) -> SessionStateChanged:
    return SessionStateChanged(session_id=sid, workspace_id=1, state=state, at=at)


def _qr(sid: str, count: int, at: datetime = NOW) -> QrIssued:
    return QrIssued(
        session_id=sid,
        workspace_id=1,
        qr=f"ref{count},a,b,c,WEB",
        expires_at=at + timedelta(seconds=20),
        qr_count=count,
        at=at,
    )


# ------------------------------------------------------------------ client


def _client(handler: object) -> InstanceClient:
    return InstanceClient(
        base_url="http://instance.test/",
        token="secret-token-123",
        name="instance-0",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


async def test_client_sends_the_token_and_reads_both_list_shapes() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"success": True, "sessions": [{"session_id": "a"}]})

    client = _client(handler)
    assert await client.list_sessions() == [{"session_id": "a"}]
    assert seen == ["Bearer secret-token-123"]
    await client.aclose()


async def test_client_errors_name_the_instance_and_never_the_token() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error": "conflict", "message": "assigned elsewhere"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(InstanceRefused) as refused:
        await _client(refuse).stop_session("webjs_1_1_abcdefgh")
    assert refused.value.status_code == 409
    assert "instance-0 refused to stop webjs_1_1_abcdefgh (HTTP 409): assigned elsewhere" == str(
        refused.value
    )
    with pytest.raises(InstanceUnavailable, match="cannot reach instance-0") as unavailable:
        await _client(down).health()
    assert "secret-token" not in str(unavailable.value)


async def test_sse_events_are_decoded_resumed_and_junk_is_skipped() -> None:
    frames = [
        "retry: 1000\n: connected\n\n",
        f"id: 7\ndata: {json.dumps(event_to_dict(_state('a', SessionState.STARTING)))}\n\n",
        "data: not json\n\n",
        'data: {"type": "no-such-type"}\n\n',
        f"id: 8\ndata: {json.dumps(event_to_dict(_qr('a', 1)))}\n\n",
    ]
    asked_after: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked_after.append(request.headers.get("last-event-id"))
        return httpx.Response(
            200, content="".join(frames).encode(), headers={"content-type": "text/event-stream"}
        )

    client = _client(handler)
    opened: list[bool] = []
    got = [e async for e in client.events(on_open=lambda: opened.append(True))]
    assert [type(e).__name__ for e in got] == ["SessionStateChanged", "QrIssued"]
    assert opened == [True] and client.last_event_id == "8"
    _ = [e async for e in client.events()]
    assert asked_after == [None, "8"]


# ------------------------------------------------------------------ fan-out


async def test_a_slow_subscriber_loses_its_oldest_events_only() -> None:
    fanout = Fanout(queue_size=3)
    slow, fast = fanout.subscribe(), fanout.subscribe()
    got_fast = []
    for n in range(5):
        fanout.publish(_qr("a", n + 1))
        got_fast.append(await fast.__anext__())
    fanout.close()
    got_slow = [e async for e in slow]
    assert [e.qr_count for e in got_slow] == [3, 4, 5]  # type: ignore[attr-defined]
    assert slow.dropped == 2 and len(got_fast) == 5
    assert [e async for e in fanout.subscribe()] == []  # closed: ends at once


# ---------------------------------------------------------------- live view


def test_live_view_keeps_the_qr_while_waiting_and_drops_it_after() -> None:
    view = LiveView()
    view.seed([SessionInfo(session_id="a", workspace_id=1, label="front desk")])
    view.apply(_state("a", SessionState.STARTING))
    view.apply(_qr("a", 1))
    view.apply(_state("a", SessionState.QR))
    info = view.get("a")
    assert info is not None and info.qr.startswith("ref1") and info.qr_expires_at is not None
    view.apply(_state("a", SessionState.CONNECTED))
    info = view.get("a")
    assert info is not None and info.qr == "" and info.connected_at == NOW
    assert info.label == "front desk"


def test_live_view_ignores_state_older_than_the_instance_snapshot() -> None:
    view = LiveView()
    view.seed([SessionInfo(session_id="a", workspace_id=1)])
    changed = view.apply_snapshot(
        "instance-1", [{"session_id": "a", "state": "connected", "restarts": 2}], NOW
    )
    assert [(b.state if b else None, a.state) for b, a in changed] == [
        (SessionState.STOPPED, SessionState.CONNECTED)
    ]
    view.apply(_state("a", SessionState.STARTING, at=NOW - timedelta(seconds=1)))
    view.apply(SessionHeartbeat(session_id="a", latency_ms=3.0, at=NOW - timedelta(seconds=1)))
    info = view.get("a")
    assert info is not None and info.state is SessionState.CONNECTED
    assert info.instance_id == "instance-1" and info.restarts == 2
    assert info.heartbeat_latency_ms == 3.0
    view.apply(
        SessionStateChanged(
            session_id="a",
            workspace_id=1,
            state=SessionState.STARTING,
            reason=Reason.BROWSER_CRASH,
            at=NOW + timedelta(seconds=1),
        )
    )
    info = view.get("a")
    assert info is not None and info.state is SessionState.STARTING and info.restarts == 3
    assert view.loads() == {"instance-1": 1}
