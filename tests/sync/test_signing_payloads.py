"""Webhook signing and bodies: the bytes the platform verifies, per docs/SYNC.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import pickle
import random
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime

import pytest
import zxingcpp
from PIL import Image

from app.domain.events import SessionHeartbeat, SessionStateChanged
from app.domain.states import Reason, SessionState
from app.sync import Secret, outbox_draft, qr_data_url, signature, signed_headers, webhook_for
from tests.sync.conftest import SECRET, all_kinds, qr_event

AT = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)


def test_signature_is_lowercase_hex_hmac_of_timestamp_plus_body() -> None:
    body = b'{"event":"session_ready","data":{}}'
    expected = hmac.new(SECRET.encode(), b"1800000000" + body, hashlib.sha256).hexdigest()
    assert signature(Secret(SECRET), 1_800_000_000, body) == expected
    assert expected == expected.lower()


def test_signed_headers_carry_the_contract_names() -> None:
    headers = signed_headers(
        Secret(SECRET),
        b"{}",
        timestamp=1_800_000_000,
        event_id="b7a4b7c2-3a43-4d51-9e1c-2f0e3c2b1a00",
        instance_url="http://10.0.0.5:9001",
    )
    assert headers == {
        "X-Timestamp": "1800000000",
        "X-HMAC-Signature": signature(Secret(SECRET), 1_800_000_000, b"{}"),
        "X-Instance-Url": "http://10.0.0.5:9001",
        "X-Event-Id": "b7a4b7c2-3a43-4d51-9e1c-2f0e3c2b1a00",
    }


def test_secret_never_shows_itself() -> None:
    secret = Secret(SECRET)
    assert SECRET not in repr(secret) and SECRET not in str(secret) and SECRET not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError, match="webhook_secret"):
        Secret("")


def test_qr_code_is_a_256px_png_data_url_that_scans_back_to_the_qr_string() -> None:
    qr = "2@AbCdEfGhIjKlMnOpQrStUvWxYz0123456789==,bm9pc2Uta2V5LWJ5dGVz,aWRlbnRpdHk=,YWR2,WEB"
    url = qr_data_url(qr)
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
    assert image.format == "PNG"
    assert image.size == (256, 256)
    decoded = zxingcpp.read_barcode(image.convert("L"))
    assert decoded is not None and decoded.text == qr
    assert decoded.ec_level == "M"


def test_every_contract_event_is_built_with_its_documented_fields() -> None:
    hooks = [webhook_for(event) for event in all_kinds("webjs_7_1_abcdefgh", AT)]
    assert [h.name for h in hooks if h] == [
        "qr_code_generated",
        "session_authenticated",
        "session_ready",
        "session_disconnected",
        "session_error",
    ]
    qr, auth, ready, gone, error = (h.data for h in hooks if h)
    ids = {"workspace_id": 7, "session_id": "webjs_7_1_abcdefgh"}
    assert {k: v for k, v in qr.items() if k != "qr_code"} == ids | {
        "expires_in": 60,
        "qr_count": 1,
        "is_regeneration": False,
    }
    assert auth == ids | {"status": "authenticated"}
    assert ready == ids | {
        "phone_number": "6281234567890",
        "status": "connected",
        "platform": "android",
        "extraction_method": "modules",
    }
    assert gone == ids | {"reason": "CONFLICT"}
    assert error == ids | {
        "error": "browser_crash",
        "message": "The browser crashed twice; pairdesk will retry in a minute.",
    }


def test_body_is_compact_json_of_event_and_data() -> None:
    hook = webhook_for(qr_event("webjs_7_1_abcdefgh", 2, AT))
    assert hook is not None
    document = json.loads(hook.body())
    # The event id rides inside the signed bytes too, so a replay cannot pass as new.
    expected = {**hook.data, "event_id": hook.event_id}
    assert document == {"event": "qr_code_generated", "data": expected}
    assert hook.body() == hook.body()  # retries sign and send the same bytes
    uuid.UUID(hook.event_id)


@pytest.mark.parametrize(
    ("state", "reason", "name", "expected"),
    [
        (SessionState.LOGGED_OUT, None, "session_disconnected", {"reason": "LOGOUT"}),
        (SessionState.STOPPED, None, "session_disconnected", {"reason": "user_initiated"}),
        (SessionState.DISCONNECTED, Reason.TIMEOUT, "session_disconnected", {"reason": "timeout"}),
        (SessionState.FAILED, Reason.QR_LIMIT, "session_error", {"error": "qr_limit"}),
    ],
)
def test_state_changes_map_to_the_contract(
    state: SessionState, reason: Reason | None, name: str, expected: dict[str, str]
) -> None:
    event = SessionStateChanged(
        session_id="webjs_7_1_abcdefgh", workspace_id=7, state=state, reason=reason, at=AT
    )
    hook = webhook_for(event)
    assert hook is not None and hook.name == name
    assert expected.items() <= dict(hook.data).items()


@pytest.mark.parametrize(
    "state",
    [SessionState.STARTING, SessionState.QR, SessionState.QR_IDLE, SessionState.CONNECTED],
)
def test_states_without_a_webhook_build_nothing(state: SessionState) -> None:
    event = SessionStateChanged(session_id="s", workspace_id=1, state=state, at=AT)
    assert webhook_for(event) is None
    assert outbox_draft(event) is None


def test_other_engine_events_build_nothing() -> None:
    assert webhook_for(SessionHeartbeat(session_id="s", latency_ms=3.0, at=AT)) is None


def test_outbox_draft_keeps_name_payload_and_event_id() -> None:
    event = all_kinds("webjs_7_1_abcdefgh", AT)[2]
    hook = webhook_for(event, event_id="0b4f5a59-8b0c-4f55-a0a6-3f7e0f1d2c3b")
    assert hook is not None
    draft = hook.draft()
    assert draft.name == "session_ready"
    assert draft.payload == dict(hook.data)
    assert str(draft.event_id) == "0b4f5a59-8b0c-4f55-a0a6-3f7e0f1d2c3b"


@pytest.mark.parametrize("key_bytes", [16, 32, 48])
def test_real_sized_qr_strings_scan_back_with_the_fixed_mask(key_bytes: int) -> None:
    """The fast renderer (fixed mask, direct matrix -> PNG) still gives a code readers decode."""
    rng = random.Random(key_bytes)

    def b64(n: int) -> str:
        return base64.b64encode(rng.randbytes(n)).decode("ascii")

    for _ in range(5):
        qr = ",".join([f"2@{b64(66)}", b64(32), b64(32), b64(key_bytes), "WEB"])
        url = qr_data_url(qr)
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.size == (256, 256)
        decoded = zxingcpp.read_barcode(image.convert("L"))
        assert decoded is not None and decoded.text == qr and decoded.ec_level == "M"


def test_the_same_qr_is_rendered_once() -> None:
    qr = "2@cached-ref,bm9pc2U=,aWRlbnRpdHk=,YWR2,WEB"
    assert qr_data_url(qr) is qr_data_url(qr)


def test_gates_on_the_wire() -> None:
    """A pairing code is its own event (sent only when enabled); the passkey gate and a
    block are `session_error`s with their reason and the operator's words."""
    from datetime import timedelta

    from app.domain.events import PairingCodeIssued
    from app.operator.text import reason_message
    from app.sandbox.central_rules import validate_event

    code = PairingCodeIssued(
        session_id="webjs_7_1_abcdefgh",
        workspace_id=7,
        code="K7Q2M9XD",
        phone="6281234567890",
        expires_at=AT + timedelta(seconds=180),
        code_count=1,
        at=AT,
    )
    hook = webhook_for(code)
    assert hook is not None and hook.name == "pairing_code_generated"
    assert dict(hook.data) == {
        "workspace_id": 7,
        "session_id": "webjs_7_1_abcdefgh",
        "pairing_code": "K7Q2M9XD",
        "phone_number": "6281234567890",
        "expires_in": 180,
        "code_count": 1,
    }
    assert validate_event(json.loads(hook.body()))[0] == "pairing_code_generated"
    passkey = SessionStateChanged(
        session_id="s", workspace_id=7, state=SessionState.PASSKEY_REQUIRED, at=AT
    )
    waiting = webhook_for(passkey)
    assert waiting is not None and waiting.name == "session_error"
    assert waiting.data["error"] == "passkey_required"
    assert waiting.data["message"] == reason_message(Reason.PASSKEY_REQUIRED)
    block = SessionStateChanged(
        session_id="s",
        workspace_id=7,
        state=SessionState.FAILED,
        reason=Reason.TOS_BLOCK,
        detail=reason_message(Reason.TOS_BLOCK),
        at=AT,
    )
    banned = webhook_for(block)
    assert banned is not None and banned.data["error"] == "TOS_BLOCK"
    assert "terms of service" in banned.data["message"]


def test_after_the_warm_up_a_qr_webhook_loads_nothing_new() -> None:
    """An instance's first real QR runs no first-time imports (Pillow's plugins above all)."""
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime, timedelta
        from app.domain.events import QrIssued
        from app.sync.payloads import warm_webhook_build, webhook_for
        from app.sync.signing import as_secret, signed_headers

        warm_webhook_build()
        before = set(sys.modules)
        now = datetime.now(UTC)
        hook = webhook_for(QrIssued(session_id="webjs_7_1800000000_abcd1234", workspace_id=7,
            qr="2@real-ref,bm9pc2U=,aWRlbnRpdHk=,YWR2", at=now,
            expires_at=now + timedelta(seconds=60), qr_count=1))
        signed_headers(as_secret("a-secret"), hook.body(), timestamp=int(now.timestamp()))
        print(sorted(set(sys.modules) - before))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
