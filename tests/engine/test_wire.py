"""The instance API's JSON: what one end writes, the other reads back, field for field."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.engine.wire import Health, decode_session, encode_session

NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)

# Fields the wire does not carry: pairdesk's own bookkeeping, never shown to a caller.
NOT_ON_THE_WIRE = {"account_uuid", "import_batch_id", "metadata"}


def _full(state: SessionState) -> SessionInfo:
    waiting = state.waiting_for_scan
    return SessionInfo(
        session_id="webjs_42_1700000000_abcd1234",
        workspace_id=42,
        label="Toko Maju",
        account_id=7,
        state=state,
        reason=Reason.QR_EXPIRED,
        phone_number="6281234567890",
        instance_id="instance-1",
        connected_at=NOW - timedelta(hours=1),
        last_heartbeat_at=NOW,
        heartbeat_latency_ms=12.5,
        qr="2@abc,noise,identity,adv,web" if waiting else "",
        qr_issued_at=NOW if waiting else None,
        qr_expires_at=NOW + timedelta(seconds=60) if waiting else None,
        qr_count=3,
        pairing_code="K7Q2M9XD" if waiting else "",
        pairing_phone="6281234567890" if waiting else "",
        pairing_code_expires_at=NOW + timedelta(seconds=180) if waiting else None,
        proxy="http://alice@proxy.example.com:3128",
        restarts=2,
        memory_bytes=40 << 20,
        extraction_method="modules",
        platform="android",
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
    )


def test_every_field_a_session_carries_comes_back() -> None:
    for state in SessionState:
        info = _full(state)
        wire = json.loads(json.dumps(encode_session(info)))  # through real JSON
        back = decode_session(wire)
        assert back is not None
        for field in dataclasses.fields(SessionInfo):
            if field.name in NOT_ON_THE_WIRE:
                continue
            assert getattr(back, field.name) == getattr(info, field.name), (state, field.name)


def test_the_qr_is_shown_only_while_waiting_for_a_scan() -> None:
    waiting = encode_session(_full(SessionState.QR))
    assert waiting["qr"] and waiting["qr_expires_at"]
    linked = encode_session(dataclasses.replace(_full(SessionState.QR), state=SessionState.PAIRING))
    assert linked["qr"] is None and linked["qr_expires_at"] is None


def test_a_pairing_code_is_shown_only_while_waiting_and_a_proxy_never_with_its_password() -> None:
    waiting = encode_session(_full(SessionState.QR))
    assert waiting["pairing_code"] == "K7Q2M9XD" and waiting["pairing_phone"]
    linked = encode_session(dataclasses.replace(_full(SessionState.QR), state=SessionState.PAIRING))
    assert linked["pairing_code"] is None and linked["pairing_code_expires_at"] is None
    assert waiting["proxy"] == "http://alice@proxy.example.com:3128"


def test_the_platform_status_vocabulary_is_kept() -> None:
    wire = encode_session(_full(SessionState.PAIRING))
    assert wire["status"] == "authenticated" and wire["state"] == "pairing"
    assert set(wire) >= {"session_id", "status", "phone_number", "workspace_id", "connected_at"}
    assert "last_activity" in wire


def test_an_instance_name_given_by_the_reader_wins() -> None:
    back = decode_session(encode_session(_full(SessionState.CONNECTED)), instance_id="instance-9")
    assert back is not None and back.instance_id == "instance-9"


@given(st.dictionaries(st.text(max_size=20), st.none() | st.booleans() | st.integers() | st.text()))
def test_decoding_never_raises_on_any_object(data: dict[str, object]) -> None:
    info = decode_session(data)
    assert info is None or isinstance(info, SessionInfo)


def test_rows_without_an_id_or_workspace_are_skipped() -> None:
    assert decode_session({"workspace_id": 1}) is None
    assert decode_session({"session_id": "a", "workspace_id": "1"}) is None
    unknown_state = decode_session({"session_id": "a", "workspace_id": 1, "state": "weird"})
    assert unknown_state is not None and unknown_state.state is SessionState.STOPPED


def test_health_comes_back_as_it_was_sent() -> None:
    health = Health(
        status="ok",
        instance_id="instance-0",
        index=0,
        pid=1234,
        uptime=12.5,
        sessions_total=5,
        sessions_connected=3,
        sessions_waiting=1,
        sessions_restoring=2,
        capacity=50,
        memory_used_mb=512.5,
        memory_total_mb=24576.0,
        cpu_percent=37.5,
        processes=14,
        listeners=1,
        warm_ready=2,
        warm_target=2,
    )
    wire = json.loads(json.dumps(health.encode()))
    assert Health.decode(wire) == health
    assert wire["sessions"]["disconnected"] == 1  # total - connected - waiting
    assert wire["memory"]["unit"] == "MB"


def test_health_of_another_version_is_read_leniently() -> None:
    odd = Health.decode({"status": "ok", "sessions": "many", "warm_ready": -3, "cpu_percent": "x"})
    assert odd == Health(status="ok")
