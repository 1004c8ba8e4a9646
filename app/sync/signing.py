"""Webhook signing, exactly as the webhook contract (docs/SYNC.md) writes it.

The platform verifies `X-HMAC-Signature` = lowercase hex HMAC-SHA256, keyed
with the shared secret, over the bytes `X-Timestamp + raw body`. The only
safe way to match that is to sign the very bytes that go on the wire, so
callers serialise the body once and pass those bytes both here and to the
HTTP client.

The secret is held in a `Secret`, whose repr and str never show it, so it
cannot leak through logs, exceptions or a debugger's variable view by accident.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER_TIMESTAMP = "X-Timestamp"
HEADER_SIGNATURE = "X-HMAC-Signature"
HEADER_INSTANCE_URL = "X-Instance-Url"
HEADER_EVENT_ID = "X-Event-Id"


class Secret:
    """A webhook secret that hides itself; `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if not raw:
            raise ValueError(
                "the webhook secret is empty: set webhook_secret or webhook_secret_file"
            )
        self._value = raw

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value).digest())


def as_secret(value: Secret | str | bytes) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def signature(secret: Secret, timestamp: int, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `str(timestamp) + body`."""
    message = str(int(timestamp)).encode("ascii") + body
    return hmac.new(secret.reveal(), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: Secret,
    body: bytes,
    *,
    timestamp: int,
    event_id: str | None = None,
    instance_url: str = "",
) -> dict[str, str]:
    """The contract's headers for `body` sent at `timestamp` (whole unix seconds)."""
    headers = {
        HEADER_TIMESTAMP: str(int(timestamp)),
        HEADER_SIGNATURE: signature(secret, timestamp, body),
    }
    if instance_url:
        headers[HEADER_INSTANCE_URL] = instance_url
    if event_id:
        headers[HEADER_EVENT_ID] = event_id
    return headers
