"""Webhook outbox values (docs/SYNC.md): what the store hands the deliverer.

Every event the central API receives is first written to the store's outbox in
the same transaction as the state change it reports; the deliverer then sends
rows in order per session. These frozen values carry a row out of the store
and a new event into it, so neither the deliverer nor the engine touches ORM
objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class WebhookEvent(StrEnum):
    """The event names of the central API contract (`{"event": NAME, ...}`)."""

    QR_CODE_GENERATED = "qr_code_generated"
    SESSION_AUTHENTICATED = "session_authenticated"
    SESSION_READY = "session_ready"
    SESSION_DISCONNECTED = "session_disconnected"
    SESSION_ERROR = "session_error"


class OutboxState(StrEnum):
    """Lifecycle of one outbox row.

    `pending` until the central API accepts it (`sent`) or refuses it for good
    (`dead`, retryable by the operator); a QR event overtaken by a newer QR or
    any state event of the same session becomes `superseded` and is never sent.
    """

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, kw_only=True)
class OutboxDraft:
    """An event to enqueue; `event_id` becomes `X-Event-Id`, stable across retries."""

    name: str
    payload: dict[str, Any]
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, kw_only=True)
class OutboxItem:
    """One stored outbox row, as the deliverer and the diagnostics view see it."""

    id: int
    event_id: uuid.UUID
    session_id: str
    name: str
    payload: dict[str, Any] = field(compare=False, hash=False)
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime
    state: OutboxState = OutboxState.PENDING
    last_error: str = ""
    last_status: int | None = None
    last_attempt_at: datetime | None = None
    sent_at: datetime | None = None

    @property
    def is_qr(self) -> bool:
        return self.name == WebhookEvent.QR_CODE_GENERATED


@dataclass(frozen=True, kw_only=True)
class DeliveryMetrics:
    """Outbox health for the console's sync indicator and `/metrics`."""

    pending: int = 0
    oldest_pending_age: float = 0.0  # seconds; 0 when nothing is pending
    delivered: int = 0
    dead: int = 0
    superseded: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None
