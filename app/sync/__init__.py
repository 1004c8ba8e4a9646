"""Central API sync: signed webhooks from a durable outbox, and the active-accounts pull.

Public API (everything else in this package is an implementation detail):
- `outbox_draft(event)` builds the webhook for an engine event as the store's
  `OutboxDraft` (None if the contract has none); the engine enqueues it in the
  same transaction as the state change (`webhook_for` gives the `Webhook`);
- `CentralClient` talks to the central API (push and pull);
- `OutboxDeliverer` sends the outbox in order per session, with retries;
- `OutboxStore` is what the deliverer needs from the store; `SqlOutbox`
  adapts the SQL store to it, `MemoryOutbox` implements it in memory;
- `reconciling(...)` / `Reconciler` pull `accounts/active` on start and every
  `pull_interval` seconds and report (`compare`) what differs from the store;
- `probe_webhook(...)` sends one signed test request and explains the answer.
"""

from __future__ import annotations

from app.sync.client import (
    ActiveAccount,
    CentralApiError,
    CentralClient,
    Outcome,
    PostResult,
    parse_active,
)
from app.sync.deliverer import OutboxDeliverer, Sender, backoff_delay
from app.sync.outbox import MemoryOutbox, OutboxStore, SqlOutbox
from app.sync.payloads import (
    EVENT_NAMES,
    QR_EVENT,
    Webhook,
    outbox_draft,
    qr_data_url,
    webhook_for,
)
from app.sync.probe import Verdict, probe_webhook
from app.sync.reconcile import Reconciler, compare, reconciling
from app.sync.signing import Secret, signature, signed_headers

__all__ = [
    "EVENT_NAMES",
    "QR_EVENT",
    "ActiveAccount",
    "CentralApiError",
    "CentralClient",
    "MemoryOutbox",
    "OutboxDeliverer",
    "OutboxStore",
    "Outcome",
    "PostResult",
    "Reconciler",
    "Secret",
    "Sender",
    "SqlOutbox",
    "Verdict",
    "Webhook",
    "backoff_delay",
    "compare",
    "outbox_draft",
    "parse_active",
    "probe_webhook",
    "qr_data_url",
    "reconciling",
    "signature",
    "signed_headers",
    "webhook_for",
]
