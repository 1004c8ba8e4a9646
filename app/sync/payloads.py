"""Webhook bodies built from engine events (the event table of docs/SYNC.md).

`webhook_for(event)` maps a domain event to the `Webhook` the central API must
receive, or None when the contract has no event for it (heartbeats, the
`starting` state, ...); `outbox_draft(event)` gives the same as the store's
`OutboxDraft`. The payload is complete when built: the engine writes it to
the outbox in the same transaction as the state change, and every retry
sends the same bytes under the same `X-Event-Id`.

Mapping:
- `QrIssued` -> `qr_code_generated` (the QR string rendered as a 256 px PNG
  data URL, error correction M);
- `PairingCodeIssued` -> `pairing_code_generated` (queued only when the
  `pairing_code_webhook` setting is on: a platform that does not know the
  event answers 4xx, docs/SYNC.md);
- `SessionStateChanged` to `pairing` -> `session_authenticated`;
  to `disconnected`, `logged_out` or `stopped` -> `session_disconnected`;
  to `failed` or `passkey_required` -> `session_error` (its reason as `error`,
  the operator's message as `message`); other states have no webhook;
- `SessionReady` -> `session_ready`;
- `SessionError` -> `session_error`.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from PIL import Image

from app.domain.events import (
    EngineEvent,
    PairingCodeIssued,
    QrIssued,
    SessionError,
    SessionReady,
    SessionStateChanged,
    utcnow,
)
from app.domain.outbox import OutboxDraft, OutboxItem, WebhookEvent
from app.domain.qr import QUIET_ZONE, qr_luminance
from app.domain.states import CentralStatus, Reason, SessionState
from app.operator.text import reason_message
from app.sync.signing import as_secret, signed_headers

QR_EVENT = WebhookEvent.QR_CODE_GENERATED.value
EVENT_NAMES = tuple(e.value for e in WebhookEvent)
QR_PIXELS = 256
_WHITE = 255

# A state change without a reason still needs one on the wire.
_DEFAULT_REASON: dict[SessionState, str] = {
    SessionState.DISCONNECTED: Reason.ERROR.value,
    SessionState.LOGGED_OUT: Reason.LOGOUT.value,
    SessionState.STOPPED: Reason.USER_INITIATED.value,
}
_FAILED_MESSAGE = (
    "The session gave up and needs an operator: open it in pairdesk's diagnostics, "
    "fix the cause shown there, then restart it."
)


def new_event_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, kw_only=True)
class Webhook:
    """One webhook: its name, its `data` object and the idempotency id kept across retries."""

    name: str
    session_id: str
    data: Mapping[str, Any]
    event_id: str = field(default_factory=new_event_id)

    @classmethod
    def from_item(cls, item: OutboxItem) -> Webhook:
        return cls(
            name=item.name,
            session_id=item.session_id,
            data=item.payload,
            event_id=str(item.event_id),
        )

    def draft(self) -> OutboxDraft:
        """The store's form of this webhook, to enqueue in the engine's transaction."""
        return OutboxDraft(
            name=self.name, payload=dict(self.data), event_id=uuid.UUID(self.event_id)
        )

    def body(self) -> bytes:
        """The exact bytes to send (and sign): compact JSON, UTF-8, keys in build order.

        `data.event_id` repeats the `X-Event-Id` header inside the signed bytes, so a
        receiver can drop replays of a captured request (the header is not signed).
        """
        document = {"event": self.name, "data": {**self.data, "event_id": self.event_id}}
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@functools.lru_cache(maxsize=256)
def qr_data_url(qr: str) -> str:
    """`data:image/png;base64,...` of `qr` as a 256x256 px QR code, error correction M.

    Modules are whole pixels (no blurry scaling): the code is drawn at the
    largest integer module size that fits, centred on a white square.

    Fast on purpose, since it sits between a QR appearing and its webhook:
    the symbol comes from `app.domain.qr` (native encoder, cached) as bytes
    an image takes as they are, quiet zone included, so no Python loop
    touches a module; it is scaled and PNG-compressed at the fastest level in
    Pillow. The result is cached, so the same QR (an API read-back, a retry)
    is never drawn twice.
    """
    side, luminance = qr_luminance(qr, QUIET_ZONE)
    scale = max(1, QR_PIXELS // side)
    framed = Image.frombytes("L", (side, side), luminance)
    drawn = framed.resize((side * scale, side * scale), Image.Resampling.NEAREST)
    canvas = Image.new("L", (QR_PIXELS, QR_PIXELS), _WHITE)
    offset = (QR_PIXELS - drawn.width) // 2
    canvas.paste(drawn, (offset, offset))
    buffer = io.BytesIO()
    canvas.convert("1", dither=Image.Dither.NONE).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def phone_digits(phone: str) -> str:
    """`+62 812-3456` or `628123456@c.us` -> `628123456` (the platform stores digits)."""
    return "".join(ch for ch in phone.split("@", 1)[0] if ch.isdigit())


def webhook_for(event: EngineEvent, *, event_id: str | None = None) -> Webhook | None:
    """The webhook the contract names for `event`, or None if it names none."""
    built = _build(event)
    if built is None:
        return None
    name, session_id, data = built
    return Webhook(name=name, session_id=session_id, data=data, event_id=event_id or new_event_id())


def outbox_draft(event: EngineEvent) -> OutboxDraft | None:
    """`webhook_for(event)` as the store's `OutboxDraft` (None if the contract has no event)."""
    webhook = webhook_for(event)
    return None if webhook is None else webhook.draft()


def _build(event: EngineEvent) -> tuple[str, str, dict[str, Any]] | None:
    if isinstance(event, QrIssued):
        return _with_ids(
            WebhookEvent.QR_CODE_GENERATED,
            event.session_id,
            event.workspace_id,
            qr_code=qr_data_url(event.qr),
            expires_in=max(0, round(event.expires_in)),
            qr_count=event.qr_count,
            is_regeneration=event.is_regeneration,
        )
    if isinstance(event, PairingCodeIssued):
        return _with_ids(
            WebhookEvent.PAIRING_CODE_GENERATED,
            event.session_id,
            event.workspace_id,
            pairing_code=event.code,
            phone_number=phone_digits(event.phone),
            expires_in=max(0, round(event.expires_in)),
            code_count=event.code_count,
        )
    if isinstance(event, SessionReady):
        return _with_ids(
            WebhookEvent.SESSION_READY,
            event.session_id,
            event.workspace_id,
            phone_number=phone_digits(event.phone_number),
            status=CentralStatus.CONNECTED.value,
            platform=event.platform,
            extraction_method=event.extraction_method,
        )
    if isinstance(event, SessionError):
        return _with_ids(
            WebhookEvent.SESSION_ERROR,
            event.session_id,
            event.workspace_id,
            error=event.error,
            message=event.message,
        )
    if isinstance(event, SessionStateChanged):
        return _from_state(event)
    return None


def _from_state(event: SessionStateChanged) -> tuple[str, str, dict[str, Any]] | None:
    state = event.state
    if state is SessionState.PAIRING:
        return _with_ids(
            WebhookEvent.SESSION_AUTHENTICATED,
            event.session_id,
            event.workspace_id,
            status=CentralStatus.AUTHENTICATED.value,
        )
    if state in _DEFAULT_REASON:
        reason = event.reason.value if event.reason is not None else _DEFAULT_REASON[state]
        return _with_ids(
            WebhookEvent.SESSION_DISCONNECTED, event.session_id, event.workspace_id, reason=reason
        )
    if state is SessionState.PASSKEY_REQUIRED:
        return _with_ids(
            WebhookEvent.SESSION_ERROR,
            event.session_id,
            event.workspace_id,
            error=Reason.PASSKEY_REQUIRED.value,
            message=event.detail or reason_message(Reason.PASSKEY_REQUIRED),
        )
    if state is SessionState.FAILED:
        error = event.reason.value if event.reason is not None else Reason.ERROR.value
        return _with_ids(
            WebhookEvent.SESSION_ERROR,
            event.session_id,
            event.workspace_id,
            error=error,
            message=event.detail or _FAILED_MESSAGE,
        )
    return None


def _with_ids(
    name: WebhookEvent, session_id: str, workspace_id: int, **fields: Any
) -> tuple[str, str, dict[str, Any]]:
    data: dict[str, Any] = {"workspace_id": workspace_id, "session_id": session_id}
    data.update(fields)
    return name.value, session_id, data


_WARM_UP_QR = "2@pairdesk-warm-up,bm9pc2U=,aWRlbnRpdHk=,YWR2"


def warm_webhook_build() -> None:
    """Build and sign one QR webhook and throw it away, so an instance's first real
    QR does not pay for first runs: Pillow loads its image plugins at the first PNG
    it writes, and the QR encoder, JSON and HMAC each run their code for the first
    time. In loaded bench runs the first QRs of an instance were the slowest
    webhooks (docs/BENCHMARKS.md). Nothing is stored or sent; the drawn code stays
    in `qr_data_url`'s cache (one entry of 256)."""
    now = utcnow()
    webhook = webhook_for(
        QrIssued(
            session_id="warm-up",
            workspace_id=0,
            qr=_WARM_UP_QR,
            at=now,
            expires_at=now + timedelta(seconds=20),
            qr_count=1,
        )
    )
    assert webhook is not None
    body = webhook.body()
    signed_headers(as_secret("warm-up"), body, timestamp=int(now.timestamp()))
