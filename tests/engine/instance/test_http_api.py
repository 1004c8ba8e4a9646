"""The instance HTTP API over a fake SessionHost and a real SQLite store."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest

from app.domain.states import SessionState
from app.store import accounts
from tests.engine.instance_harness import TOKEN, api_client, running_instance

WS = 42
SID = "webjs_42_1700000000_abcd1234"
SID2 = "webjs_42_1700000000_efgh5678"

ENDPOINTS = [
    ("POST", "/api/sessions"),
    ("GET", "/api/sessions"),
    ("GET", f"/api/sessions/{SID}/status"),
    ("POST", f"/api/sessions/{SID}/regenerate-qr"),
    ("POST", f"/api/sessions/{SID}/pairing-code"),
    ("POST", f"/api/sessions/{SID}/open-window"),
    ("POST", f"/api/sessions/{SID}/proxy"),
    ("POST", f"/api/sessions/{SID}/reconnect"),
    ("POST", f"/api/sessions/{SID}/restart"),
    ("POST", f"/api/sessions/{SID}/logout"),
    ("POST", f"/api/sessions/{SID}/start"),
    ("POST", f"/api/sessions/{SID}/stop"),
    ("DELETE", f"/api/sessions/{SID}"),
    ("POST", "/api/warm-pool"),
    ("GET", "/api/events"),
    ("GET", "/health"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_needs_the_token(tmp_path: Path, method: str, path: str) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance, auth=False) as client:
        missing = await client.request(method, path)
        wrong = await client.request(method, path, headers={"Authorization": "Bearer nope"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["success"] is False
        assert "token" in response.json()["error"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert h.host.calls == []


async def test_api_key_in_query_or_body_is_accepted(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance, auth=False) as client:
        listed = await client.get("/api/sessions", params={"api_key": TOKEN})
        created = await client.post(
            "/api/sessions", json={"workspace_id": WS, "session_id": SID, "api_key": TOKEN}
        )
    assert listed.status_code == 200
    assert created.status_code == 201


async def test_add_session_creates_the_account_and_shows_a_qr(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        response = await client.post(
            "/api/sessions", json={"workspace_id": WS, "account_id": 7, "session_id": SID}
        )
        await h.instance.flush()
        with h.store._sessions() as session:
            stored = accounts.get_account(session, SID)
    assert response.status_code == 201
    assert response.json() == {
        "success": True,
        "session_id": SID,
        "status": "qr_scanning",
        "state": "qr",
    }
    assert stored.instance_id == "instance-0"
    assert stored.account_id == 7
    assert stored.state is SessionState.QR
    assert stored.qr_count == 1


async def test_adding_a_running_session_again_is_harmless(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        body = {"workspace_id": WS, "session_id": SID}
        first = await client.post("/api/sessions", json=body)
        second = await client.post("/api/sessions", json=body)
    assert first.status_code == second.status_code == 201
    assert h.host.calls == [("start", SID)]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"session_id": SID}, "workspace id"),
        ({"workspace_id": 0, "session_id": SID}, "workspace id"),
        ({"workspace_id": WS, "session_id": "../etc"}, "session id"),
        ({"workspace_id": WS}, "session id"),
        ({"workspace_id": 43, "session_id": SID}, "belongs to workspace 42"),
        ({"workspace_id": WS, "session_id": SID, "account_id": "x"}, "account_id"),
        ({"workspace_id": WS, "session_id": SID, "label": 5}, "label"),
    ],
)
async def test_bad_input_is_a_clear_422(
    tmp_path: Path, body: dict[str, object], fragment: str
) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        response = await client.post("/api/sessions", json=body)
    assert response.status_code == 422
    assert response.json()["success"] is False
    assert fragment in response.json()["error"]
    assert h.host.calls == []


async def test_body_that_is_not_json_is_422(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        response = await client.post("/api/sessions", content=b"{nope")
        listed = await client.post("/api/sessions", json=[1, 2])
    assert response.status_code == 422
    assert "JSON" in response.json()["error"]
    assert listed.status_code == 422


async def test_capacity_is_refused_with_503(tmp_path: Path) -> None:
    async with running_instance(tmp_path, max_sessions=2) as h, api_client(h.instance) as client:
        for n in range(2):
            ok = await client.post(
                "/api/sessions",
                json={"workspace_id": WS, "session_id": f"webjs_42_1700000000_aaaaaaa{n}"},
            )
            assert ok.status_code == 201
        full = await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
    assert full.status_code == 503
    assert full.json()["code"] == "capacity"
    assert "full" in full.json()["error"] and "max_sessions" in full.json()["error"]


async def test_sessions_still_booting_count_once_against_capacity(tmp_path: Path) -> None:
    # The onboarding bug: with max_sessions=3, the third of three accounts started
    # at once was refused (a booting session was counted twice) and stayed stopped.
    async with running_instance(tmp_path, max_sessions=3) as h, api_client(h.instance) as client:
        host = h.host
        host.boot_gate = asyncio.Event()
        ids = [f"webjs_42_1700000000_bootin{n}0" for n in range(4)]

        async def add(sid: str) -> httpx.Response:
            return await client.post("/api/sessions", json={"workspace_id": WS, "session_id": sid})

        first = [asyncio.create_task(add(sid)) for sid in ids[:2]]
        while len(host.sessions()) < 2:  # both are in the host, still booting
            await asyncio.sleep(0.01)
        third = asyncio.create_task(add(ids[2]))
        while len(host.sessions()) < 3 and not third.done():
            await asyncio.sleep(0.01)
        host.boot_gate.set()
        answers = await asyncio.gather(*first, third)
        assert [a.status_code for a in answers] == [201, 201, 201]
        full = await add(ids[3])
    assert full.status_code == 503 and full.json()["code"] == "capacity"


async def test_refused_creates_leave_no_rows(tmp_path: Path) -> None:
    # Issue 10, item 12: ten concurrent creates with max_sessions 3 kept the refused
    # ids as `stopped` accounts; a create refused for capacity creates nothing.
    async with running_instance(tmp_path, max_sessions=3) as h, api_client(h.instance) as client:
        ids = [f"webjs_42_1700000000_concur{n}0" for n in range(10)]

        async def add(sid: str) -> httpx.Response:
            return await client.post("/api/sessions", json={"workspace_id": WS, "session_id": sid})

        answers = await asyncio.gather(*(add(sid) for sid in ids))
        await h.instance.flush()
        with h.store._sessions() as session:
            stored = {sid for sid in ids if accounts.find_account(session, sid) is not None}
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 3 + [503] * 7
    created = {sid for sid, a in zip(ids, answers, strict=True) if a.status_code == 201}
    assert stored == created


async def test_list_and_status(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID2})
        h.host.scan(SID)
        h.host.heartbeat(SID, 9.5)
        await h.instance.flush()
        listed = (await client.get("/api/sessions")).json()
        status = (await client.get(f"/api/sessions/{SID}/status")).json()
        unknown = await client.get("/api/sessions/webjs_42_1700000000_zzzzzzzz/status")
        invalid = await client.get("/api/sessions/bad..id/status")
    assert listed["count"] == 2
    by_id = {row["session_id"]: row for row in listed["sessions"]}
    assert by_id[SID]["status"] == "connected"
    assert by_id[SID2]["status"] == "qr_scanning" and by_id[SID2]["state"] == "qr"
    assert status["success"] is True
    assert status["status"] == "connected"
    assert status["phone_number"] == "6281234567890"
    assert status["workspace_id"] == WS
    assert status["connected_at"] is not None
    assert status["last_activity"] is not None
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_session"
    assert invalid.status_code == 422


async def test_regenerate_qr_answers_a_png_data_url(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        response = await client.post(f"/api/sessions/{SID}/regenerate-qr")
        h.host.scan(SID)
        connected = await client.post(f"/api/sessions/{SID}/regenerate-qr")
        unknown = await client.post("/api/sessions/webjs_42_1700000000_zzzzzzzz/regenerate-qr")
    body = response.json()
    assert response.status_code == 200
    assert body["qr_code"].startswith("data:image/png;base64,")
    png = base64.b64decode(body["qr_code"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 55 <= body["expires_in"] <= 60
    assert body["qr_count"] == 2
    assert connected.status_code == 409 and "connected" in connected.json()["error"]
    assert unknown.status_code == 404


async def test_regenerate_qr_without_waiting_answers_at_once_and_the_qr_follows_as_an_event(
    tmp_path: Path,
) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        listener = h.instance.hub.listen(types=("qr",))
        response = await client.post(f"/api/sessions/{SID}/regenerate-qr", params={"wait": "false"})
        item = await listener.get(timeout=5)
        listener.detach()
    assert response.json() == {"success": True, "session_id": SID, "qr_code": None}
    assert item is not None and item.body["session_id"] == SID
    assert item.body["is_regeneration"] is True
    assert ("regenerate_qr", SID) in h.host.calls


async def test_regenerate_qr_of_a_stopped_session_starts_it(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        await client.post(f"/api/sessions/{SID}/stop")
        response = await client.post(f"/api/sessions/{SID}/regenerate-qr")
    assert response.status_code == 200
    assert response.json()["qr_code"].startswith("data:image/png;base64,")
    assert h.host.calls[-1] == ("start", SID)


async def test_stop_start_and_reconnect(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        h.host.scan(SID)
        stopped = await client.post(f"/api/sessions/{SID}/stop")
        stopped_again = await client.post(f"/api/sessions/{SID}/stop")
        await h.instance.flush()
        with h.store._sessions() as session:
            stored = accounts.get_account(session, SID)
        started = await client.post(f"/api/sessions/{SID}/start")
        reconnected = await client.post(f"/api/sessions/{SID}/reconnect")
    assert stopped.json() == {
        "success": True,
        "session_id": SID,
        "status": "disconnected",
        "state": "stopped",
    }
    assert stopped_again.status_code == 200
    assert stored.state is SessionState.STOPPED and stored.reason is not None
    assert stored.reason.value == "user_initiated"
    assert started.json()["state"] == "connected"  # restored from its "snapshot"
    assert reconnected.json()["status"] == "connected"
    assert [c[0] for c in h.host.calls] == ["start", "stop", "start", "restart"]


async def test_reconnect_of_a_stopped_session_opens_it(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        await client.post(f"/api/sessions/{SID}/stop")
        response = await client.post(f"/api/sessions/{SID}/reconnect")
    assert response.status_code == 200
    assert response.json()["state"] == "qr"


async def test_one_verb_per_operation_and_the_platform_words_as_aliases(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        h.host.scan(SID)
        restarted = await client.post(f"/api/sessions/{SID}/restart")
        reconnected = await client.post(f"/api/sessions/{SID}/reconnect")
        logged_out = await client.post(f"/api/sessions/{SID}/logout")
    assert restarted.json()["state"] == reconnected.json()["state"] == "connected"
    assert logged_out.json()["state"] == "logged_out"
    assert [c[0] for c in h.host.calls] == ["start", "restart", "restart", "logout"]


async def test_delete_logs_out_and_removes_local_state(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        h.host.scan(SID)
        folder = h.settings.sessions_dir / f"workspace_{WS}" / SID
        folder.mkdir(parents=True)
        (folder / "state.json").write_text("{}")
        deleted = await client.delete(f"/api/sessions/{SID}")
        status = (await client.get(f"/api/sessions/{SID}/status")).json()
        unknown = await client.delete("/api/sessions/webjs_42_1700000000_zzzzzzzz")
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "disconnected"
    assert ("logout", SID) in h.host.calls
    assert not folder.exists()
    assert status["state"] == "logged_out"
    assert unknown.status_code == 404


async def test_session_of_another_instance_is_a_conflict(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        with h.store._sessions.begin() as session:
            accounts.assign_instance(session, SID, "instance-9")
        stop = await client.post(f"/api/sessions/{SID}/stop")
        add = await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID2})
        h.host.calls.clear()
        again = await client.post(f"/api/sessions/{SID}/start")
    assert stop.status_code == 409 and "instance-9" in stop.json()["error"]
    assert add.status_code == 201
    assert again.status_code == 409


async def test_health_and_metrics(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID2})
        h.host.scan(SID)
        h.host.heartbeat(SID, 20.0)
        h.host.warm = (1, 2)
        health = (await client.get("/health")).json()
        metrics = await client.get("/metrics")
    assert health["status"] == "ok"
    assert health["uptime"] >= 0
    assert health["sessions"] == {
        "total": 2,
        "connected": 1,
        "disconnected": 0,
        "qr": 1,
        "restoring": 0,
        "capacity": 3,
    }
    assert (health["warm_ready"], health["warm_target"]) == (1, 2)
    assert health["memory"]["unit"] == "MB"
    assert health["memory"]["total"] > 0
    assert isinstance(health["cpu_percent"], float)
    text = metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'pairdesk_sessions{instance_id="instance-0",state="connected"} 1' in text
    assert 'pairdesk_sessions{instance_id="instance-0",state="qr"} 1' in text
    assert 'pairdesk_qr_issued_total{instance_id="instance-0"} 2' in text
    assert 'pairdesk_heartbeat_latency_ms_count{instance_id="instance-0"} 1' in text
    assert "pairdesk_outbox_pending" in text


async def test_unknown_route_and_method_are_json(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        missing = await client.get("/api/nothing")
        wrong = await client.put("/api/sessions")
    assert missing.status_code == 404 and missing.json()["success"] is False
    assert wrong.status_code == 405 and wrong.json()["success"] is False
