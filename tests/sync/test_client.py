"""CentralClient against httpx.MockTransport: what is sent, and how answers are classified."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.sandbox.central import CentralServer
from app.sync import CentralApiError, CentralClient, Outcome, Webhook
from app.sync.client import WEBHOOK_PATH
from tests.sync.conftest import SECRET, FakeClock

URL = "https://platform.example.com"
HOOK = Webhook(
    name="session_authenticated",
    session_id="webjs_7_1_abcdefgh",
    data={"workspace_id": 7, "session_id": "webjs_7_1_abcdefgh", "status": "authenticated"},
    event_id="6f1c2f8e-2c7b-4b5e-8f0a-8d1e2f3a4b5c",
)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock
) -> CentralClient:
    return CentralClient(
        central_url=URL + "/",
        secret=SECRET,
        instance_url="http://127.0.0.1:9001",
        timeout=5.0,
        transport=httpx.MockTransport(handler),
        clock=clock,
    )


async def test_post_sends_the_signed_exact_bytes(clock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async with make_client(handler, clock) as client:
        result = await client.post(HOOK)
    assert result.outcome is Outcome.ACCEPTED and result.status == 200
    [request] = seen
    assert str(request.url) == URL + "/api/whatsapp/webhooks/webjs"
    assert request.method == "POST"
    body = request.content
    data = {**HOOK.data, "event_id": HOOK.event_id}
    assert json.loads(body) == {"event": HOOK.name, "data": data}
    stamp = request.headers["X-Timestamp"]
    assert stamp == str(int(clock()))
    expected = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
    assert request.headers["X-HMAC-Signature"] == expected
    assert request.headers["X-Event-Id"] == HOOK.event_id
    assert request.headers["X-Instance-Url"] == "http://127.0.0.1:9001"
    assert request.headers["Content-Type"] == "application/json"


async def test_event_id_is_stable_and_timestamp_fresh_across_retries(clock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503)

    async with make_client(handler, clock) as client:
        await client.post(HOOK)
        clock.advance(90)
        await client.post(HOOK)
    first, second = seen
    assert first.headers["X-Event-Id"] == second.headers["X-Event-Id"]
    assert int(second.headers["X-Timestamp"]) == int(first.headers["X-Timestamp"]) + 90
    assert first.content == second.content


@pytest.mark.parametrize(
    ("response", "outcome", "retry_after", "detail"),
    [
        (httpx.Response(201), Outcome.ACCEPTED, None, ""),
        (httpx.Response(500, text="boom"), Outcome.RETRY, None, "HTTP 500: boom"),
        (httpx.Response(503), Outcome.RETRY, None, "HTTP 503"),
        (
            httpx.Response(429, headers={"Retry-After": "12"}),
            Outcome.RETRY,
            12.0,
            "HTTP 429",
        ),
        (
            httpx.Response(429, headers={"Retry-After": "Wed, 21 Jan 2027 08:00:30 GMT"}),
            Outcome.RETRY,
            30.0,
            "HTTP 429",
        ),
        (
            httpx.Response(401, json={"reason": "signature mismatch"}),
            Outcome.DEAD,
            None,
            "check that webhook_secret matches",
        ),
        (
            httpx.Response(422, text="x" * 1000),
            Outcome.DEAD,
            None,
            "HTTP 422: " + "x" * 300 + "...",
        ),
        (
            httpx.Response(301, headers={"Location": "https://elsewhere"}),
            Outcome.DEAD,
            None,
            "redirected to https://elsewhere",
        ),
    ],
)
async def test_answers_are_classified(
    response: httpx.Response, outcome: Outcome, retry_after: float | None, detail: str
) -> None:
    clock = FakeClock(start=1_800_000_000.0)  # = 2027-01-15 08:00:00 UTC
    clock.now = 1_800_000_000.0 + (6 * 86400)  # 2027-01-21 08:00:00 UTC
    async with make_client(lambda request: response, clock) as client:
        result = await client.post(HOOK)
    assert result.outcome is outcome
    assert result.status == response.status_code
    assert result.retry_after == retry_after
    assert detail in result.detail


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
async def test_network_trouble_is_retried_not_raised(clock: FakeClock, error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    async with make_client(handler, clock) as client:
        result = await client.post(HOOK)
    assert result.outcome is Outcome.RETRY
    assert result.status is None
    assert "platform.example.com" in result.detail


async def test_connect_opens_the_way_with_a_head_request_that_carries_nothing(
    clock: FakeClock,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(405)

    async with make_client(handler, clock) as client:
        assert await client.connect() is True
    [request] = seen
    assert request.method == "HEAD" and str(request.url) == URL + WEBHOOK_PATH
    assert request.content == b""
    assert not {"x-hmac-signature", "x-timestamp", "x-event-id"} & set(request.headers)


async def test_connect_to_an_unreachable_api_is_not_an_error(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    async with make_client(handler, clock) as client:
        assert await client.connect() is False
        assert (await client.post(HOOK)).outcome is Outcome.RETRY


async def test_connect_changes_nothing_at_the_reference_api(clock: FakeClock) -> None:
    with CentralServer(SECRET) as central:
        async with CentralClient(central_url=central.url, secret=SECRET) as client:
            assert await client.connect() is True
        assert not central.state.rejections()
        assert not central.state.events()


# ------------------------------------------------------------------ pull


@pytest.mark.parametrize(
    "document",
    [
        [{"session_id": "webjs_1_1_aaaaaaaa", "workspace_id": 1, "phone_number": "62811"}],
        {"data": [{"session_id": "webjs_1_1_aaaaaaaa", "workspace_id": "1", "status": "x"}]},
    ],
    ids=["bare-list", "data-list"],
)
async def test_active_accounts_accepts_a_bare_list_or_a_data_list(
    clock: FakeClock, document: object
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=document)

    async with make_client(handler, clock) as client:
        [account] = await client.active_accounts()
    assert account.session_id == "webjs_1_1_aaaaaaaa"
    assert account.workspace_id == 1
    assert seen[0].url.path == "/api/whatsapp/accounts/active"
    assert "X-HMAC-Signature" in seen[0].headers


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, json={"accounts": []}), "'data' list"),
        (httpx.Response(200, json="hello"), "expected a list"),
        (httpx.Response(200, json=[{"workspace_id": 1}]), "no session_id"),
        (httpx.Response(200, json=[42]), "not an object"),
        (httpx.Response(200, text="<html>"), "not JSON"),
        (httpx.Response(401, text="nope"), "webhook_secret"),
        (httpx.Response(500), "HTTP 500"),
    ],
)
async def test_active_accounts_explains_anything_else(
    clock: FakeClock, response: httpx.Response, message: str
) -> None:
    async with make_client(lambda request: response, clock) as client:
        with pytest.raises(CentralApiError, match=message):
            await client.active_accounts()


async def test_active_accounts_unreachable_is_a_clear_error(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    async with make_client(handler, clock) as client:
        with pytest.raises(CentralApiError, match="cannot reach"):
            await client.active_accounts()


def test_client_needs_a_url() -> None:
    with pytest.raises(ValueError, match="central_url"):
        CentralClient(central_url="", secret=SECRET)


async def test_client_from_settings_uses_url_secret_and_timeout(clock: FakeClock) -> None:
    from app.config import Settings

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    settings = Settings.load(
        environ={
            "PAIRDESK_CENTRAL_URL": URL,
            "PAIRDESK_WEBHOOK_SECRET": SECRET,
            "PAIRDESK_WEBHOOK_TIMEOUT": "3",
        },
        flags={},
        cwd=Path("/nonexistent"),
    )
    client = CentralClient.from_settings(
        settings, instance_url="http://i", transport=httpx.MockTransport(handler)
    )
    async with client:
        assert (await client.post(HOOK)).outcome is Outcome.ACCEPTED
    body = seen[0].content
    stamp = seen[0].headers["X-Timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
    assert seen[0].headers["X-HMAC-Signature"] == expected
    assert seen[0].extensions["timeout"]["read"] == 3.0
