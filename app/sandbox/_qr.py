"""Login QR strings: new refs, the QR module matrix the page paints, parsing.

The QR string is WhatsApp Web's `ref,base64(noisePub),base64(identityPub),
advSecret,platform`. The server encodes it with the project's one QR encoder
(`app.domain.qr`) and sends the page the module matrix, so the page needs no
QR encoder of its own and what it draws is exactly what a phone would read.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from app.domain.qr import qr_modules

KEY_BYTES = 32
_PLATFORM = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_REF = re.compile(r"^[0-9]@[A-Za-z0-9+/=]{16,200}$")


@dataclass(frozen=True)
class QrParts:
    """The five fields of a login QR string."""

    ref: str
    noise: str
    identity: str
    adv: str
    platform: str

    def text(self) -> str:
        return ",".join((self.ref, self.noise, self.identity, self.adv, self.platform))


def new_ref() -> str:
    """A fresh ref shaped like the real site's (`2@` + base64)."""
    return "2@" + base64.b64encode(secrets.token_bytes(66)).decode("ascii")


def check_key(name: str, value: object) -> str:
    """`value` must be standard base64 of exactly 32 bytes; returns it."""
    if not isinstance(value, str):
        raise ValueError(
            f"{name}: expected base64 of {KEY_BYTES} bytes, got {type(value).__name__}"
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name}: not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{name}: expected {KEY_BYTES} bytes, got {len(raw)}")
    return value


def check_platform(value: object) -> str:
    if not isinstance(value, str) or not _PLATFORM.match(value):
        raise ValueError("platform: expected 1-32 letters, digits, '_', '.', '-'")
    return value


def parse_qr(text: object) -> QrParts:
    """Split and validate a whole QR string; ValueError says what is wrong."""
    if not isinstance(text, str) or not text:
        raise ValueError("qr: expected the whole QR string (text)")
    if len(text) > 2000:
        raise ValueError("qr: too long to be a login QR string")
    parts = text.split(",")
    if len(parts) != 5:
        raise ValueError(
            f"qr: expected 5 comma-separated fields (ref,noise,identity,adv,platform), "
            f"got {len(parts)}"
        )
    ref, noise, identity, adv, platform = parts
    if not _REF.match(ref):
        raise ValueError("qr: the ref (first field) is not shaped like '2@<base64>'")
    check_key("qr noise key (2nd field)", noise)
    check_key("qr identity key (3rd field)", identity)
    check_key("qr ADV secret (4th field)", adv)
    check_platform(platform)
    return QrParts(ref, noise, identity, adv, platform)


def qr_matrix(text: str) -> tuple[int, str]:
    """(size, modules) for `text`: modules is size*size '0'/'1', row by row, no border.

    The quiet zone is the page's job.
    """
    rows = qr_modules(text)
    return len(rows), "".join("1" if cell else "0" for row in rows for cell in row)
