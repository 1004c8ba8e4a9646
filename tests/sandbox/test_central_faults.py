"""Reference central API: accounts/active, the test endpoints and the fault knobs."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.sandbox.central import (
    ACTIVE_PATH,
    WEBHOOK_PATH,
    CentralServer,
    create_central_app,
    serve_central,
)

SECRET = "central-test-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def central(clock: Clock) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_central_app(SECRET, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://central") as client:
        yield client, app.state.central


def signed_request(session_id: str, now: float, event: str = "session_authenticated") -> dict:
    data: dict[str, Any] = {"workspace_id": 3, "session_id": session_id}
    if event == "session_authenticated":
        data["status"] = "authenticated"
    else:
        data |= {
            "phone_number": "628111",
            "status": "connected",
            "platform": "",
            "extraction_method": "",
        }
    body = json.dumps({"event": event, "data": data}).encode()
    stamp = str(int(now))
    mac = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
    return {"content": body, "headers": {"X-Timestamp": stamp, "X-HMAC-Signature": mac}}


# ------------------------------------------------------------------ accounts


async def test_accounts_active_lists_seeded_and_linked_accounts_in_a_data_list(
    central, clock: Clock
) -> None:
    client, _ = central
    seeded = await client.post(
        "/central/accounts",
        json={"accounts": [{"session_id": "webjs_3_1_seeded00", "workspace_id": 3}]},
    )
    assert seeded.status_code == 200
    await client.post(
        WEBHOOK_PATH, **signed_request("webjs_3_2_linked00", clock(), "session_ready")
    )
    await client.post(WEBHOOK_PATH, **signed_request("webjs_3_3_pairing0", clock()))

    response = await client.get(ACTIVE_PATH)
    assert response.status_code == 200
    document = response.json()
    rows = {row["session_id"]: row for row in document["data"]}
    assert set(rows) == {"webjs_3_1_seeded00", "webjs_3_2_linked00"}
    assert rows["webjs_3_2_linked00"] == {
        "session_id": "webjs_3_2_linked00",
        "workspace_id": 3,
        "phone_number": "628111",
        "status": "connected",
    }


async def test_seeding_bad_accounts_is_refused(central) -> None:
    client, _ = central
    response = await client.post("/central/accounts", json={"accounts": [{"session_id": ""}]})
    assert response.status_code == 422
    assert "session_id" in response.json()["error"]


async def test_a_signed_pull_is_verified(central, clock: Clock) -> None:
    client, _ = central
    stamp = str(int(clock()))
    good = hmac.new(SECRET.encode(), stamp.encode(), hashlib.sha256).hexdigest()
    ok = await client.get(ACTIVE_PATH, headers={"X-Timestamp": stamp, "X-HMAC-Signature": good})
    bad = await client.get(
        ACTIVE_PATH, headers={"X-Timestamp": stamp, "X-HMAC-Signature": "0" * 64}
    )
    assert ok.status_code == 200
    assert bad.status_code == 401


async def test_events_endpoint_filters(central, clock: Clock) -> None:
    client, _ = central
    await client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", clock()))
    await client.post(WEBHOOK_PATH, **signed_request("webjs_3_2_bbbbbbbb", clock()))
    await client.post(
        WEBHOOK_PATH, **signed_request("webjs_3_2_bbbbbbbb", clock(), "session_ready")
    )
    everything = (await client.get("/central/events")).json()
    assert everything["count"] == 3
    one = (await client.get("/central/events", params={"session_id": "webjs_3_2_bbbbbbbb"})).json()
    assert [e["event"] for e in one["data"]] == ["session_authenticated", "session_ready"]
    ready = (await client.get("/central/events", params={"event": "session_ready"})).json()
    assert ready["count"] == 1
    # A poll for what is new since the last entry it saw (the bench's, under load).
    newer = (await client.get("/central/events", params={"since": 1})).json()
    assert [e["seq"] for e in newer["data"]] == [2, 3]
    assert (await client.get("/central/events", params={"since": 3})).json()["count"] == 0
    bad = await client.get("/central/events", params={"since": "two"})
    assert bad.status_code == 422
    assert "'two'" in bad.json()["error"]
    await client.post("/central/reset")
    assert (await client.get("/central/events")).json()["count"] == 0


# ------------------------------------------------------------------ faults


async def test_error_fault_for_n_requests_then_normal(central, clock: Clock) -> None:
    client, state = central
    listed = await client.post("/central/faults", json={"kind": "error", "status": 503, "count": 2})
    assert listed.json()["faults"][0]["remaining"] == 2
    statuses = [
        (
            await client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", clock()))
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    assert len(state.events()) == 1  # the failed attempts changed nothing
    assert (await client.get("/central/faults")).json()["faults"] == []


async def test_rate_limit_fault_sends_retry_after(central, clock: Clock) -> None:
    client, _ = central
    await client.post("/central/faults", json={"kind": "rate_limit", "retry_after": 7, "count": 1})
    response = await client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", clock()))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


async def test_fault_for_a_while_ends_on_the_clock(central, clock: Clock) -> None:
    client, _ = central
    await client.post("/central/faults", json={"kind": "error", "duration": 30})
    first = await client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", clock()))
    clock.now += 31
    later = await client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", clock()))
    assert (first.status_code, later.status_code) == (500, 200)


async def test_faults_apply_to_the_pull_too_but_not_to_test_endpoints(central) -> None:
    client, _ = central
    await client.post("/central/faults", json={"kind": "error", "count": 5})
    assert (await client.get(ACTIVE_PATH)).status_code == 500
    assert (await client.get("/central/events")).status_code == 200


async def test_delete_clears_faults(central, clock: Clock) -> None:
    client, _ = central
    await client.post("/central/faults", json={"kind": "error"})
    await client.delete("/central/faults")
    response = await client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", clock()))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "spec",
    [{"kind": "explode"}, {"kind": "error", "count": 0}, {"kind": "slow", "delay": -1}, []],
)
async def test_bad_fault_specs_are_refused(central, spec: Any) -> None:
    client, _ = central
    response = await client.post("/central/faults", json=spec)
    assert response.status_code == 422


def test_server_thread_refuses_connections_then_recovers() -> None:
    """Over a real socket, `refuse` drops the connection: the client gets no status at all."""
    with CentralServer(SECRET) as server, httpx.Client(base_url=server.url) as client:
        client.post("/central/faults", json={"kind": "refuse", "count": 2})
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", time.time()))
        response = client.post(WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", time.time()))
        assert response.status_code == 200
        assert [e.event for e in server.state.events()] == ["session_authenticated"]
        assert server.webhook_url.endswith(WEBHOOK_PATH)


async def test_slow_fault_delays_then_answers_normally() -> None:
    async with serve_central(SECRET) as (url, state):
        async with httpx.AsyncClient(base_url=url) as client:
            await client.post("/central/faults", json={"kind": "slow", "delay": 0.2, "count": 1})
            response = await client.post(
                WEBHOOK_PATH, **signed_request("webjs_3_1_aaaaaaaa", time.time())
            )
            assert response.status_code == 200
            # A client with a shorter timeout gives up: the delay is real.
            await client.post("/central/faults", json={"kind": "slow", "delay": 0.5, "count": 1})
            with pytest.raises(httpx.TimeoutException):
                await client.post(
                    WEBHOOK_PATH,
                    **signed_request("webjs_3_1_aaaaaaaa", time.time()),
                    timeout=0.05,
                )
        assert state.events()[0].event == "session_authenticated"


def test_the_warm_up_at_creation_leaves_no_trace() -> None:
    """The app checks one QR event when built: nothing logged, accepted or refused."""
    app = create_central_app(SECRET)
    central = app.state.central
    assert central.events() == []
    assert central.rejections() == []
    assert central.accounts() == []
