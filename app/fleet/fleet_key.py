"""The fleet-wide snapshot key: one AES-256 key every member of a fleet shares.

A snapshot in shared storage (the fleet database or S3) is a logged-in account,
so it travels sealed with this key (AES-256-GCM, the session id as associated
data: the sealing of app/engine/vault.py). Each member's own sessions folder keeps
its per-folder vault; the fleet key only covers what leaves the host.

The key lives in the file named by the `fleet_key_file` setting: base64 of 32
bytes, one line, mode 0600 (or stricter). A file group or others can read is
refused: whoever reads it opens every account of the fleet. `pairdesk fleet
keygen FILE` writes a fresh one.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.engine.vault import open_with, seal_with
from app.permissions import write_private

KEYGEN = "pairdesk fleet keygen FILE"


class FleetKeyError(Exception):
    """The fleet key cannot be had; the message says why and what to do."""


class FleetCipher:
    """Seals and opens snapshots for shared storage (same interface as `Vault`)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise FleetKeyError("a fleet key is 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def seal(self, data: bytes, *, session_id: str) -> bytes:
        return seal_with(self._aead, data, session_id=session_id)

    def open(self, blob: bytes, *, session_id: str) -> bytes:
        return open_with(self._aead, blob, session_id=session_id)


def read_fleet_key(setting: str) -> FleetCipher:
    """The cipher of the key file `setting` names; `FleetKeyError` (one line) if none."""
    if not setting:
        raise FleetKeyError(
            "fleet mode needs the fleet snapshot key: set fleet_key_file to a 0600 file "
            f"holding it (make one with `{KEYGEN}` and give every member the same file)"
        )
    path = Path(setting).expanduser()
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise FleetKeyError(
            f"fleet_key_file: cannot read {path} ({exc.strerror}); "
            f"make one with `{KEYGEN}` or fix the path"
        ) from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise FleetKeyError(
                f"fleet_key_file: {path} is readable by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`"
            )
        text = fh.read().strip()
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise FleetKeyError(
            f"fleet_key_file: {path} does not hold a fleet key (base64 of 32 bytes); "
            f"make one with `{KEYGEN}`"
        )
    return FleetCipher(key)


def write_fleet_key(path: Path) -> None:
    """A fresh key into `path`, 0600; an existing file is never overwritten (it may be
    the key the fleet's snapshots are sealed with). Written whole (`write_private`):
    a keygen that fails leaves no file and one killed midway at most a temp file
    beside it, never part of a key that the next keygen refuses to replace as if it
    were the fleet's (without hard links, a crash may leave an empty file there)."""
    key = AESGCM.generate_key(bit_length=256)
    try:
        write_private(path, base64.b64encode(key) + b"\n", exclusive=True)
    except FileExistsError:
        raise FleetKeyError(
            f"{path} exists: not overwritten (it may be the key the fleet's snapshots are "
            "sealed with); remove it first if it really is unused"
        ) from None
    except OSError as exc:
        raise FleetKeyError(f"cannot create {path} ({exc.strerror})") from None
