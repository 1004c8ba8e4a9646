"""Reference central API: webhook authentication and the event table (docs/SYNC.md).

These tests sign requests by hand from the contract's wording, not with
`app.sync`, so the reference is checked against the contract itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from app.sandbox.central import WEBHOOK_PATH, create_central_app

SECRET = "central-test-secret"
NOW = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

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


def png_data_url(size: int = 256) -> str:
    buffer = io.BytesIO()
    Image.new("1", (size, size), 1).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def body_of(event: str, **data: Any) -> bytes:
    return json.dumps({"event": event, "data": data}).encode()


VALID: dict[str, dict[str, Any]] = {
    "qr_code_generated": {
        "workspace_id": 7,
        "session_id": "webjs_7_1_abcdefgh",
        "qr_code": png_data_url(),
        "expires_in": 60,
        "qr_count": 1,
        "is_regeneration": False,
    },
    "session_authenticated": {
        "workspace_id": 7,
        "session_id": "webjs_7_1_abcdefgh",
        "status": "authenticated",
    },
    "session_ready": {
        "workspace_id": 7,
        "session_id": "webjs_7_1_abcdefgh",
        "phone_number": "6281234567890",
        "status": "connected",
        "platform": "android",
        "extraction_method": "modules",
    },
    "session_disconnected": {
        "workspace_id": 7,
        "session_id": "webjs_7_1_abcdefgh",
        "reason": "LOGOUT",
    },
    "session_error": {
        "workspace_id": 7,
        "session_id": "webjs_7_1_abcdefgh",
        "error": "browser_crash",
        "message": "The browser crashed.",
    },
}


def signed(
    body: bytes, *, secret: str = SECRET, timestamp: int = NOW, event_id: str | None = None
) -> dict[str, str]:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + body, hashlib.sha256)
    headers = {
        "X-Timestamp": str(timestamp),
        "X-HMAC-Signature": mac.hexdigest(),
        "X-Instance-Url": "http://127.0.0.1:9001",
        "Content-Type": "application/json",
    }
    headers["X-Event-Id"] = event_id or str(uuid.uuid4())
    return headers


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(WEBHOOK_PATH, content=body, headers=headers)


# ------------------------------------------------------------------ signatures


async def test_accepts_a_correctly_signed_request_and_records_it(central) -> None:
    client, state = central
    body = body_of("session_ready", **VALID["session_ready"])
    event_id = str(uuid.uuid4())
    response = await post(client, body, signed(body, event_id=event_id))
    assert response.status_code == 200, response.text
    [entry] = state.events()
    assert entry.event == "session_ready"
    assert entry.event_id == event_id
    assert entry.instance_url == "http://127.0.0.1:9001"
    assert entry.changed_state and not entry.duplicate
    account = state.account("webjs_7_1_abcdefgh")
    assert (account.status, account.phone_number) == ("connected", "6281234567890")


async def test_accepts_timestamps_inside_the_window(central) -> None:
    client, _ = central
    for offset in (-299, 299):
        body = body_of("session_authenticated", **VALID["session_authenticated"])
        response = await post(client, body, signed(body, timestamp=NOW + offset))
        assert response.status_code == 200, (offset, response.text)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret": "not-the-secret"}, "signature mismatch"),
        ({"timestamp": NOW - 301}, "timestamp outside 300 s window"),
        ({"timestamp": NOW + 301}, "timestamp outside 300 s window"),
    ],
    ids=["wrong-secret", "stale", "future"],
)
async def test_rejects_bad_credentials(central, change: dict[str, Any], reason: str) -> None:
    client, state = central
    body = body_of("session_authenticated", **VALID["session_authenticated"])
    response = await post(client, body, signed(body, **change))
    assert response.status_code == 401
    assert response.json()["reason"] == reason
    assert state.events() == []
    assert state.rejections()[-1].reason == reason


async def test_rejects_a_tampered_body(central) -> None:
    client, state = central
    body = body_of("session_authenticated", **VALID["session_authenticated"])
    headers = signed(body)
    tampered = body.replace(b'"workspace_id": 7', b'"workspace_id": 8')
    assert tampered != body
    response = await post(client, tampered, headers)
    assert response.status_code == 401
    assert response.json()["reason"] == "signature mismatch"
    assert state.events() == []


async def test_signature_covers_timestamp_plus_body_exactly(central) -> None:
    """Signing the body alone, or re-serialised JSON, is a mismatch: the exact bytes count."""
    client, _ = central
    body = body_of("session_authenticated", **VALID["session_authenticated"])
    headers = signed(body)
    headers["X-HMAC-Signature"] = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert (await post(client, body, headers)).status_code == 401
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert (await post(client, reserialised, signed(body))).status_code == 401
    upper = signed(body)
    upper["X-HMAC-Signature"] = upper["X-HMAC-Signature"].upper()
    assert (await post(client, body, upper)).json()["reason"] == "signature mismatch"


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-HMAC-Signature", None, "missing signature"),
        ("X-Timestamp", None, "missing timestamp"),
        ("X-Timestamp", "1800000000.5", "malformed timestamp"),
        ("X-Timestamp", "soon", "malformed timestamp"),
    ],
)
async def test_rejects_missing_or_malformed_headers(
    central, header: str, value: str | None, reason: str
) -> None:
    client, _ = central
    body = body_of("session_authenticated", **VALID["session_authenticated"])
    headers = signed(body)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    response = await post(client, body, headers)
    assert response.status_code == 401
    assert response.json()["reason"] == reason


# ------------------------------------------------------------------ event table


@pytest.mark.parametrize("event", sorted(VALID))
async def test_each_event_type_is_accepted_and_updates_the_account(central, event: str) -> None:
    client, state = central
    body = body_of(event, **VALID[event])
    response = await post(client, body, signed(body))
    assert response.status_code == 200, response.text
    expected = {
        "qr_code_generated": "qr_scanning",
        "session_authenticated": "authenticated",
        "session_ready": "connected",
        "session_disconnected": "disconnected",
        "session_error": "failed",
    }[event]
    account = state.account("webjs_7_1_abcdefgh")
    assert account.status == expected
    assert account.last_event == event


@pytest.mark.parametrize("event", sorted(VALID))
async def test_each_documented_field_is_required(central, event: str) -> None:
    client, state = central
    for missing in VALID[event]:
        data = {k: v for k, v in VALID[event].items() if k != missing}
        body = body_of(event, **data)
        response = await post(client, body, signed(body))
        assert response.status_code == 422, (missing, response.text)
        assert missing in response.json()["message"]
    assert state.events() == []


@pytest.mark.parametrize(
    ("event", "field", "value", "hint"),
    [
        ("qr_code_generated", "qr_code", "not-a-data-url", "data URL"),
        ("qr_code_generated", "qr_code", png_data_url(300), "256x256"),
        ("qr_code_generated", "qr_code", "data:image/png;base64,aGVsbG8=", "PNG"),
        ("qr_code_generated", "qr_count", 0, "1 or more"),
        ("qr_code_generated", "is_regeneration", "no", "true or false"),
        ("qr_code_generated", "expires_in", -1, "seconds"),
        ("session_authenticated", "status", "connected", "'authenticated'"),
        ("session_ready", "status", "authenticated", "'connected'"),
        ("session_ready", "phone_number", "+62 812", "digits"),
        ("session_ready", "workspace_id", "7", "integer"),
        ("session_disconnected", "reason", "", "empty"),
        ("session_error", "session_id", 12, "string"),
    ],
)
async def test_bad_field_values_are_refused_with_a_message(
    central, event: str, field: str, value: Any, hint: str
) -> None:
    client, _ = central
    body = body_of(event, **(VALID[event] | {field: value}))
    response = await post(client, body, signed(body))
    assert response.status_code == 422
    message = response.json()["message"]
    assert field in message and hint in message, message


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"event": "session_deleted", "data": {}}).encode(), "unknown event"),
        (json.dumps({"event": "session_ready", "data": []}).encode(), "'data'"),
    ],
)
async def test_malformed_bodies_are_refused(central, body: bytes, hint: str) -> None:
    client, _ = central
    response = await post(client, body, signed(body))
    assert response.status_code == 422
    assert hint in response.json()["message"]


async def test_event_id_must_be_a_uuid_when_sent(central) -> None:
    client, _ = central
    body = body_of("session_authenticated", **VALID["session_authenticated"])
    response = await post(client, body, signed(body, event_id="42"))
    assert response.status_code == 422
    assert "X-Event-Id" in response.json()["message"]


async def test_a_repeated_event_id_is_logged_as_a_duplicate(central) -> None:
    client, state = central
    event_id = str(uuid.uuid4())
    body = body_of("session_ready", **VALID["session_ready"])
    for _ in range(2):
        assert (await post(client, body, signed(body, event_id=event_id))).status_code == 200
    first, second = state.events(event_id=event_id)
    assert (first.duplicate, first.changed_state) == (False, True)
    assert (second.duplicate, second.changed_state) == (True, False)


async def test_a_replayed_event_id_answers_duplicate_and_changes_nothing(central) -> None:
    """A ready replayed after a disconnect must not bring the account back."""
    client, state = central
    ready = body_of("session_ready", **VALID["session_ready"])
    gone = body_of("session_disconnected", **VALID["session_disconnected"])
    ready_id = str(uuid.uuid4())
    await post(client, ready, signed(ready, event_id=ready_id))
    await post(client, gone, signed(gone))
    before = state.account("webjs_7_1_abcdefgh")
    response = await post(client, ready, signed(ready, event_id=ready_id))
    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    replay = state.events(event_id=ready_id)[-1]
    assert replay.duplicate and not replay.changed_state
    assert state.account("webjs_7_1_abcdefgh") == before


async def test_the_signed_event_id_in_data_is_the_one_deduplicated(central) -> None:
    """The header is not signed: a replay cannot pass as new by changing X-Event-Id."""
    client, state = central
    event_id = str(uuid.uuid4())
    body = body_of("session_ready", **VALID["session_ready"], event_id=event_id)
    first = await post(client, body, signed(body, event_id=event_id))
    assert first.json()["status"] == "applied"
    mismatch = await post(client, body, signed(body))  # a fresh header id
    assert mismatch.status_code == 422
    assert "data.event_id" in mismatch.json()["message"]
    headerless = signed(body)
    del headerless["X-Event-Id"]
    assert (await post(client, body, headerless)).json()["status"] == "duplicate"
    assert [e.duplicate for e in state.events(event_id=event_id)] == [False, True]
