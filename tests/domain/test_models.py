"""Read models: derived fields and value semantics the views rely on."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from app.domain.models import SessionInfo
from app.domain.outbox import OutboxDraft, OutboxItem, WebhookEvent
from app.domain.states import SessionState


def test_session_info_central_status_follows_state() -> None:
    for state in SessionState:
        info = SessionInfo(session_id="s", workspace_id=1, state=state)
        assert info.central_status is state.central_status


def test_session_info_hashable_despite_metadata() -> None:
    a = SessionInfo(session_id="s", workspace_id=1, metadata={"k": 1})
    b = SessionInfo(session_id="s", workspace_id=1, metadata={"k": 2})
    assert a == b and hash(a) == hash(b)


def test_outbox_values() -> None:
    assert OutboxDraft(name="x", payload={}).event_id != OutboxDraft(name="x", payload={}).event_id
    now = datetime(2026, 1, 1, tzinfo=UTC)
    item = OutboxItem(
        id=1,
        event_id=uuid.uuid4(),
        session_id="s",
        name=WebhookEvent.QR_CODE_GENERATED,
        payload={},
        created_at=now,
        next_attempt_at=now,
    )
    assert item.supersedable
    code = dataclasses.replace(item, name=WebhookEvent.PAIRING_CODE_GENERATED.value)
    assert code.supersedable
    assert not dataclasses.replace(item, name="session_ready").supersedable
    assert [e.value for e in WebhookEvent] == [
        "qr_code_generated",
        "pairing_code_generated",
        "session_authenticated",
        "session_ready",
        "session_disconnected",
        "session_error",
    ]
