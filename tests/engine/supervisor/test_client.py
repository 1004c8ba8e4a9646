"""The console's client of an instance's HTTP API: verbs, errors, the SSE stream."""

from __future__ import annotations

import json

import httpx
import pytest

from app.domain.events import event_to_dict
from app.domain.states import SessionState
from app.engine.supervisor.client import InstanceClient, InstanceRefused, InstanceUnavailable
from tests.engine.event_support import qr_event, state_event

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
        row = {"session_id": "a", "workspace_id": 3, "state": "qr", "qr": "2@ref"}
        return httpx.Response(200, json={"success": True, "sessions": [row, {"junk": 1}]})

    client = _client(handler)
    (info,) = await client.list_sessions()  # rows without an id are skipped
    assert (info.session_id, info.workspace_id, info.state, info.qr) == (
        "a",
        3,
        SessionState.QR,
        "2@ref",
    )
    assert seen == ["Bearer secret-token-123"]
    await client.aclose()


async def test_client_speaks_one_verb_per_path_and_takes_the_qr_from_the_event_stream() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        return httpx.Response(200, json={"success": True, "qr_code": None})

    client = _client(handler)
    sid = "webjs_1_1_abcdefgh"
    for verb in ("start", "stop", "restart", "logout"):
        assert await getattr(client, f"{verb}_session")(sid) is None
    assert await client.regenerate_qr(sid) is None
    await client.aclose()
    assert seen == [
        f"POST /api/sessions/{sid}/start?",
        f"POST /api/sessions/{sid}/stop?",
        f"POST /api/sessions/{sid}/restart?",
        f"POST /api/sessions/{sid}/logout?",
        # The console does not want the QR in the reply: it arrives once, as an event.
        f"POST /api/sessions/{sid}/regenerate-qr?wait=false",
    ]


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
        f"id: 7\ndata: {json.dumps(event_to_dict(state_event('a', SessionState.STARTING)))}\n\n",
        "data: not json\n\n",
        'data: {"type": "no-such-type"}\n\n',
        f"id: 8\ndata: {json.dumps(event_to_dict(qr_event('a', 1)))}\n\n",
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


async def test_client_asks_for_a_warm_up_and_reads_the_pages_kept() -> None:
    seen: list[tuple[str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"success": True, "warm_ready": 1, "warm_target": 6})

    client = _client(handler)
    assert await client.warm_up(6, 300.0) == 6
    await client.aclose()
    assert seen == [("POST", "/api/warm-pool", {"pages": 6, "seconds": 300.0})]


async def test_client_reports_a_refused_warm_up_with_the_instances_reason() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"success": False, "error": '"pages" must be ...'})

    client = _client(handler)
    with pytest.raises(InstanceRefused, match=r"instance-0 refused to warm up 3 login page"):
        await client.warm_up(3, 60.0)
    await client.aclose()
