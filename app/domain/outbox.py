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
    PAIRING_CODE_GENERATED = "pairing_code_generated"  # sent only when enabled (docs/SYNC.md)
    SESSION_AUTHENTICATED = "session_authenticated"
    SESSION_READY = "session_ready"
    SESSION_DISCONNECTED = "session_disconnected"
    SESSION_ERROR = "session_error"


#: Events worth nothing once anything newer of their session is queued: a QR or a
#: pairing code nobody can use any more is superseded, never sent late.
SUPERSEDABLE_EVENTS: frozenset[str] = frozenset(
    {WebhookEvent.QR_CODE_GENERATED.value, WebhookEvent.PAIRING_CODE_GENERATED.value}
)


class OutboxState(StrEnum):
    """Lifecycle of one outbox row.

    `pending` until the central API accepts it (`sent`) or refuses it for good
    (`dead`, retryable by the operator); a QR (or pairing code) event overtaken by
    anything newer of the same session becomes `superseded` and is never sent.
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
    def supersedable(self) -> bool:
        """A QR or pairing code: dropped, never sent late, once anything newer is queued."""
        return self.name in SUPERSEDABLE_EVENTS


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
