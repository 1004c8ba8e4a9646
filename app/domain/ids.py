"""Identifiers that come from operators, spreadsheets, the platform and pages.

Session ids: pairdesk makes them in the platform's form
`webjs_{workspace_id}_{unix}_{random8}` (as the Laravel app does), and accepts
any id the platform hands over as long as it is safe as a folder name, because
the LocalAuth layout uses it as one (`sessions/workspace_{ws}/{session_id}/`).

Phone numbers are kept as E.164 digits without the `+` (what WhatsApp ids use:
`6281234567890@c.us`). Workspace ids are the platform's positive integers.

Every check raises a subclass of `InvalidIdentifier` (a `ValueError`) whose
message says what was wrong and the form expected, so onboarding can show it
per row as it stands.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "InvalidIdentifier",
    "InvalidPhoneNumber",
    "InvalidSessionId",
    "InvalidWorkspaceId",
    "SessionIdParts",
    "is_platform_session_id",
    "make_session_id",
    "normalize_phone",
    "parse_session_id",
    "phone_from_wid",
    "validate_session_id",
    "validate_workspace_id",
]

MAX_WORKSPACE_ID = 2**63 - 1  # a signed 64-bit column on every database we support
SESSION_ID_MAX_LENGTH = 128
RANDOM_PART_LENGTH = 8
# Lower case only when we make ids: two ids differing only in case would share a
# folder on the case-insensitive file systems of macOS and Windows.
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits

_PLATFORM_ID = re.compile(
    r"webjs_(?P<workspace>[1-9][0-9]{0,18})_(?P<unix>[0-9]{1,12})_(?P<random>[A-Za-z0-9]{8})"
)
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]+")
E164_MIN_DIGITS = 7  # e.g. Niue and Saint Helena: 3-digit country code + 4 digits
E164_MAX_DIGITS = 15


class InvalidIdentifier(ValueError):
    """A workspace id, session id or phone number that pairdesk cannot use."""


class InvalidWorkspaceId(InvalidIdentifier):
    pass


class InvalidSessionId(InvalidIdentifier):
    pass


class InvalidPhoneNumber(InvalidIdentifier):
    pass


@dataclass(frozen=True)
class SessionIdParts:
    """The pieces of a platform-form session id."""

    workspace_id: int
    unix: int
    random: str


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------ workspace


def validate_workspace_id(value: object) -> int:
    """The workspace id as an int; accepts ints, digit strings and whole floats.

    Spreadsheets hand over `42.0` and `" 42 "`; both mean workspace 42. Zero,
    negatives, booleans and fractions are rejected.
    """
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        number = int(value.strip())
    if number is None or not 1 <= number <= MAX_WORKSPACE_ID:
        raise InvalidWorkspaceId(
            f"workspace id must be a positive whole number such as 42, got {_shown(value)}"
        )
    return number


# ---------------------------------------------------------------- instance id


def instance_id_for(index: int) -> str:
    """The id of the instance in slot `index` of a desk's supervisor: `instance-{index}`."""
    return f"instance-{index}"


# ----------------------------------------------------------------- session id


def make_session_id(workspace_id: int, *, at: datetime, random_part: str | None = None) -> str:
    """A new id `webjs_{workspace_id}_{unix}_{random8}` for an account created `at`.

    `random_part` is for tests; normally 8 random lower-case letters and digits.
    """
    workspace = validate_workspace_id(workspace_id)
    token = random_part
    if token is None:
        token = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(RANDOM_PART_LENGTH))
    elif len(token) != RANDOM_PART_LENGTH or not token.isascii() or not token.isalnum():
        raise InvalidSessionId(f"random part must be 8 letters or digits, got {_shown(token)}")
    stamp = at.timestamp()
    # Checked before truncating: int() rounds toward zero, so a time in the last second
    # of 1969 would otherwise pass as 1970's first.
    if stamp < 0:
        raise InvalidSessionId(f"creation time {at.isoformat()} is before 1970")
    return f"webjs_{workspace}_{int(stamp)}_{token}"


def is_platform_session_id(value: str) -> bool:
    return _PLATFORM_ID.fullmatch(value) is not None


def parse_session_id(value: str) -> SessionIdParts:
    """Split a platform-form id; raises `InvalidSessionId` for any other form."""
    match = _PLATFORM_ID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidSessionId(
            f"session id {_shown(value)} is not in the form webjs_<workspace>_<unix>_<8 chars>"
        )
    return SessionIdParts(int(match["workspace"]), int(match["unix"]), match["random"])


def validate_session_id(value: object, *, workspace_id: int | None = None) -> str:
    """The id itself if it is safe to use as a folder name and a URL path segment.

    Ids made by pairdesk or the platform are in the `webjs_...` form; other ids
    the platform may send are accepted when they are 1-128 letters, digits,
    `_`, `-` or `.` starting with a letter or digit. When `workspace_id` is
    given, a `webjs_` id must name that workspace (a mismatch means the row or
    request mixed up two accounts).
    """
    if not isinstance(value, str) or not value:
        raise InvalidSessionId(f"session id must be non-empty text, got {_shown(value)}")
    if len(value) > SESSION_ID_MAX_LENGTH:
        raise InvalidSessionId(
            f"session id is {len(value)} characters long; at most {SESSION_ID_MAX_LENGTH} allowed"
        )
    if not _SAFE_ID.fullmatch(value) or ".." in value or not value.isascii():
        raise InvalidSessionId(
            f"session id {_shown(value)} may hold only letters, digits, '_', '-' and '.', "
            "must start with a letter or digit and must not contain '..'"
        )
    if value.startswith("webjs_") and not is_platform_session_id(value):
        raise InvalidSessionId(
            f"session id {_shown(value)} starts with webjs_ but is not in the form "
            "webjs_<workspace>_<unix>_<8 chars>"
        )
    if workspace_id is not None and is_platform_session_id(value):
        named = parse_session_id(value).workspace_id
        if named != workspace_id:
            raise InvalidSessionId(
                f"session id {value} belongs to workspace {named}, not workspace {workspace_id}"
            )
    return value


# -------------------------------------------------------------------- phone


def normalize_phone(value: object, *, default_country_code: str = "") -> str:
    """E.164 digits without `+` (`"+62 812-3456-7890"` -> `"6281234567890"`).

    Accepts `+` or `00` international prefixes, spaces, dashes, dots, slashes
    and parentheses, and whole numbers as spreadsheets store them. A national
    number (leading `0`) needs `default_country_code` (digits, e.g. `"62"`);
    without it the error says to add the country code.
    """
    if isinstance(value, bool):
        raise InvalidPhoneNumber(f"phone number must be text, got {_shown(value)}")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float) and value.is_integer() and 0 < value < 2**53:
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidPhoneNumber(f"phone number must be text, got {_shown(value)}")
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("+"):
        digits = compact[1:]
        international = True
    elif compact.startswith("00"):
        digits = compact[2:]
        international = True
    else:
        digits = compact
        international = False
    if not digits.isascii() or not digits.isdecimal():
        raise InvalidPhoneNumber(
            f"phone number {_shown(value)} may hold only digits, an optional leading '+' "
            "and separators (spaces, '-', '.', '(', ')')"
        )
    if digits.startswith("0"):
        if international:
            raise InvalidPhoneNumber(
                f"phone number {_shown(value)}: a country code never starts with 0"
            )
        cc = default_country_code.lstrip("+")
        if not cc:
            raise InvalidPhoneNumber(
                f"phone number {_shown(value)} is in national format (leading 0); "
                "write it with the country code, e.g. +62 812 3456 7890"
            )
        if not (cc.isascii() and cc.isdecimal() and 1 <= len(cc) <= 3 and cc[0] != "0"):
            raise InvalidPhoneNumber(f"default country code {cc!r} must be 1-3 digits such as 62")
        digits = cc + digits.lstrip("0")
    if not E164_MIN_DIGITS <= len(digits) <= E164_MAX_DIGITS:
        raise InvalidPhoneNumber(
            f"phone number {_shown(value)} has {len(digits)} digits; an international number "
            f"has {E164_MIN_DIGITS} to {E164_MAX_DIGITS} digits including the country code"
        )
    return digits


def phone_from_wid(wid: str) -> str:
    """The phone digits of a WhatsApp user id (`6281234567890:12@c.us` -> `6281234567890`).

    Accepts the `@c.us` and `@s.whatsapp.net` forms, with or without a device
    suffix; a `@lid` id carries no phone number and is rejected.
    """
    user, _, server = wid.partition("@")
    if server and server not in ("c.us", "s.whatsapp.net"):
        raise InvalidPhoneNumber(f"WhatsApp id {_shown(wid)} holds no phone number")
    return normalize_phone("+" + user.split(":", 1)[0].split(".", 1)[0])
