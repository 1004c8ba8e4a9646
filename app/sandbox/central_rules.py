"""The reference central API's rules: webhook authentication and event validation.

This is the receiving side of the webhook contract (docs/SYNC.md), written from the contract
alone and deliberately independent of `app.sync` (our sender): if the sender
signs the wrong bytes, formats the timestamp differently or leaves out a
documented field, these checks fail the way the platform's Laravel side would,
instead of agreeing with the sender's own mistake.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import uuid
from collections.abc import Callable, Mapping
from typing import Any

WINDOW_SECONDS = 300
QR_PIXELS = 256
PNG_PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class AuthFailure(Exception):
    """A webhook failed authentication; `reason` is the stable, short cause (answered as 401)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class InvalidEvent(Exception):
    """A webhook body does not follow the contract (answered as 422 with this message)."""


def check_signature(secret: bytes, headers: Mapping[str, str], body: bytes, *, now: float) -> int:
    """Verify `X-Timestamp` and `X-HMAC-Signature`; returns the timestamp or raises AuthFailure.

    The signature is lowercase hex HMAC-SHA256 over the exact bytes
    `timestamp + raw body`, compared in constant time, as the platform does.
    """
    signature = headers.get("x-hmac-signature")
    stamp = headers.get("x-timestamp")
    if not signature:
        raise AuthFailure("missing signature", "the X-HMAC-Signature header is required")
    if not stamp:
        raise AuthFailure("missing timestamp", "the X-Timestamp header is required")
    if not stamp.isascii() or not stamp.isdigit():
        raise AuthFailure(
            "malformed timestamp", f"X-Timestamp must be whole unix seconds, got {stamp[:40]!r}"
        )
    skew = int(stamp) - now
    if abs(skew) > WINDOW_SECONDS:
        direction = "ahead of" if skew > 0 else "behind"
        raise AuthFailure(
            f"timestamp outside {WINDOW_SECONDS} s window",
            f"X-Timestamp is {abs(skew):.0f} s {direction} the receiver's clock",
        )
    expected = hmac.new(secret, stamp.encode("ascii") + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise AuthFailure(
            "signature mismatch",
            "X-HMAC-Signature is not HMAC-SHA256(secret, timestamp + body) in lowercase hex",
        )
    return int(stamp)


def check_event_id(headers: Mapping[str, str], data: Mapping[str, Any] | None = None) -> str | None:
    """The event's idempotency id: `data.event_id` (signed) or the `X-Event-Id` header.

    Both are optional (extra to the original contract) but must be UUIDs when
    sent, and must agree when both are: the header is not signed, so a replay
    with a fresh header must not pass as a new event.
    """
    header = headers.get("x-event-id")
    signed = None if data is None else data.get("event_id")
    if header is not None:
        _uuid("X-Event-Id", header)
    if signed is not None:
        if not isinstance(signed, str):
            raise InvalidEvent(f"data.event_id must be a UUID string, got {type(signed).__name__}")
        _uuid("data.event_id", signed)
        if header is not None and uuid.UUID(header) != uuid.UUID(signed):
            raise InvalidEvent("X-Event-Id and data.event_id differ; send the same id in both")
        return signed
    return header


def _uuid(where: str, value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidEvent(f"{where} must be a UUID, got {value[:60]!r}") from None


# ------------------------------------------------------------------ fields


Check = Callable[[str, Any], None]


def _int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent(f"data.{name} must be an integer, got {type(value).__name__}")


def _positive_int(name: str, value: Any) -> None:
    _int(name, value)
    if value < 1:
        raise InvalidEvent(f"data.{name} must be 1 or more, got {value}")


def _text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidEvent(f"data.{name} must be a string, got {type(value).__name__}")


def _nonempty(name: str, value: Any) -> None:
    _text(name, value)
    if not value.strip():
        raise InvalidEvent(f"data.{name} must not be empty")


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidEvent(f"data.{name} must be true or false, got {type(value).__name__}")


def _seconds(name: str, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise InvalidEvent(f"data.{name} must be a number of seconds (0 or more)")


def _phone(name: str, value: Any) -> None:
    _nonempty(name, value)
    if not value.isascii() or not value.isdigit():
        raise InvalidEvent(f"data.{name} must be digits only (E.164 without '+'), got {value!r}")


def _literal(expected: str) -> Check:
    def check(name: str, value: Any) -> None:
        if value != expected:
            raise InvalidEvent(f"data.{name} must be {expected!r}, got {value!r}")

    return check


def _qr_png(name: str, value: Any) -> None:
    """A PNG data URL of a 256 px square image (the contract's rendering of the QR)."""
    _text(name, value)
    if not value.startswith(PNG_PREFIX):
        raise InvalidEvent(f"data.{name} must be a data URL starting with {PNG_PREFIX!r}")
    try:
        raw = base64.b64decode(value[len(PNG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEvent(f"data.{name} is not valid base64") from None
    if not raw.startswith(PNG_MAGIC):
        raise InvalidEvent(f"data.{name} does not hold a PNG image")
    from PIL import Image  # imported here: only QR events need it

    try:
        with Image.open(io.BytesIO(raw)) as image:
            size = image.size
    except Exception:
        raise InvalidEvent(f"data.{name} holds a PNG that cannot be decoded") from None
    if size != (QR_PIXELS, QR_PIXELS):
        raise InvalidEvent(f"data.{name} must be {QR_PIXELS}x{QR_PIXELS} px, got {size}")


def _pairing_code(name: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) != 8 or not value.isalnum():
        raise InvalidEvent(f"data.{name} must be the page's 8 characters (e.g. ABCDEFGH)")


_COMMON: dict[str, Check] = {"workspace_id": _int, "session_id": _nonempty}

EVENT_FIELDS: dict[str, dict[str, Check]] = {
    "qr_code_generated": _COMMON
    | {
        "qr_code": _qr_png,
        "expires_in": _seconds,
        "qr_count": _positive_int,
        "is_regeneration": _bool,
    },
    # Sent only when pairdesk's `pairing_code_webhook` setting is on (docs/SYNC.md).
    "pairing_code_generated": _COMMON
    | {
        "pairing_code": _pairing_code,
        "phone_number": _phone,
        "expires_in": _seconds,
        "code_count": _positive_int,
    },
    "session_authenticated": _COMMON | {"status": _literal("authenticated")},
    "session_ready": _COMMON
    | {
        "phone_number": _phone,
        "status": _literal("connected"),
        "platform": _text,
        "extraction_method": _text,
    },
    "session_disconnected": _COMMON | {"reason": _nonempty},
    "session_error": _COMMON | {"error": _nonempty, "message": _text},
}


def validate_event(body: Any) -> tuple[str, dict[str, Any]]:
    """Check `{"event": NAME, "data": {...}}` against the event table; returns (name, data).

    Every documented field must be present with the documented type; extra
    fields are allowed (the platform ignores what it does not know).
    """
    if not isinstance(body, dict):
        raise InvalidEvent('the body must be a JSON object {"event": NAME, "data": {...}}')
    name = body.get("event")
    data = body.get("data")
    if not isinstance(name, str):
        raise InvalidEvent("the body needs an 'event' string")
    rules = EVENT_FIELDS.get(name)
    if rules is None:
        known = ", ".join(EVENT_FIELDS)
        raise InvalidEvent(f"unknown event {name[:60]!r}; known events: {known}")
    if not isinstance(data, dict):
        raise InvalidEvent(f"{name}: 'data' must be a JSON object")
    missing = [key for key in rules if key not in data]
    if missing:
        raise InvalidEvent(f"{name}: data is missing {', '.join(missing)}")
    for key, check in rules.items():
        try:
            check(key, data[key])
        except InvalidEvent as exc:
            raise InvalidEvent(f"{name}: {exc}") from None
    return name, data
