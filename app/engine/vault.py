"""Session snapshots encrypted at rest (AES-256-GCM), and where their key lives.

A snapshot (`state.json`, Playwright's storage state with IndexedDB) is a
logged-in WhatsApp account: whoever copies it opens the account. So it is
written sealed: `MAGIC`, a 12-byte random nonce, then AES-GCM ciphertext and
tag, with the session id as associated data (a sealed file copied into
another session's folder does not open). One key per sessions folder:

- in the OS keyring when this desktop has a usable one (service `pairdesk`,
  user `session-key-<key id>`);
- else in `<sessions folder>/.session.key`, mode 0600, the fallback (as safe
  as the folder's permissions and the disk's own encryption: a stolen laptop
  without disk encryption gives the key away with the snapshots);

`<sessions folder>/.vault.json` (not secret) says which, and the key id. The
first process that needs the key creates it, under a file lock, so instances
starting together agree on one key. `doctor` prints `describe()`.
docs/SECURITY.md says how to back the key up and move it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.permissions import write_private

MAGIC = b"PDVAULT1\n"
KEYRING_SERVICE = "pairdesk"
META_FILE = ".vault.json"
KEY_FILE = ".session.key"
LOCK_FILE = ".vault.lock"
_NONCE = 12
_MIN_PRIORITY = 1  # keyring's "fail" backend is 0 and "null" is -1


class VaultError(Exception):
    """The key cannot be had; the message says what it affects and what to do."""


class SealedUnreadable(Exception):
    """A sealed snapshot does not open with this key (damaged, or another key)."""


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def seal_with(aead: AESGCM, data: bytes, *, session_id: str) -> bytes:
    """`MAGIC`, a fresh nonce, then the ciphertext bound to `session_id` (associated
    data): shared by the per-folder `Vault` and the fleet key (app/fleet/fleet_key.py)."""
    nonce = os.urandom(_NONCE)
    return MAGIC + nonce + aead.encrypt(nonce, data, session_id.encode())


def open_with(aead: AESGCM, blob: bytes, *, session_id: str) -> bytes:
    """The clear bytes of `seal_with`'s output; `SealedUnreadable` when they do not
    open with this key or for this session. Clear (legacy) bytes pass through."""
    if not is_sealed(blob):
        return blob
    body = blob[len(MAGIC) :]
    try:
        return aead.decrypt(body[:_NONCE], body[_NONCE:], session_id.encode())
    except (InvalidTag, ValueError):
        raise SealedUnreadable(session_id) from None


@dataclass(frozen=True)
class KeyPlace:
    where: str  # "keyring" or "file"
    key_id: str
    description: str


def _keyring_name(backend: Any) -> str:
    if backend is None:
        return ""
    try:
        if float(backend.priority) < _MIN_PRIORITY:
            return ""
    except Exception:  # a backend whose viability check fails is not usable
        return ""
    return str(getattr(backend, "name", type(backend).__name__))


def _default_backend() -> Any:
    try:
        import keyring

        return keyring.get_keyring()
    except Exception:  # no keyring package or no backend: the file fallback
        return None


class Vault:
    """Seals and opens the snapshots of one sessions folder."""

    def __init__(self, sessions_dir: Path, *, backend: Any = None) -> None:
        self.folder = Path(sessions_dir)
        self._backend = backend
        self._backend_given = backend is not None
        self._aead: AESGCM | None = None
        self._place: KeyPlace | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- the key

    def _backend_now(self) -> Any:
        if not self._backend_given and self._backend is None:
            self._backend = _default_backend()
        return self._backend

    def _key(self) -> AESGCM:
        with self._lock:
            if self._aead is None:
                key, self._place = self._load_or_create()
                self._aead = AESGCM(key)
            return self._aead

    def place(self) -> KeyPlace:
        self._key()
        assert self._place is not None
        return self._place

    def _load_or_create(self) -> tuple[bytes, KeyPlace]:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # instances starting together make one key
            meta = self._read_meta()
            if meta is not None:
                return self._load(meta)
            return self._create()
        finally:
            os.close(fd)

    def _read_meta(self) -> dict[str, str] | None:
        path = self.folder / META_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise VaultError(
                f"{path} cannot be read ({exc}): the saved logins in {self.folder} cannot be "
                "opened; restore the file from a backup (docs/SECURITY.md)"
            ) from None
        if not isinstance(data, dict) or data.get("where") not in ("keyring", "file"):
            raise VaultError(f"{path} is not a pairdesk key description; restore it from a backup")
        return {"where": str(data["where"]), "key_id": str(data.get("key_id", ""))}

    def _load(self, meta: dict[str, str]) -> tuple[bytes, KeyPlace]:
        key_id = meta["key_id"]
        if meta["where"] == "file":
            path = self.folder / KEY_FILE
            try:
                key = base64.b64decode(path.read_bytes().strip(), validate=True)
            except (OSError, ValueError) as exc:
                raise VaultError(
                    f"the key file {path} cannot be read ({exc}): the saved logins in "
                    f"{self.folder} cannot be opened; put the backed-up key file back "
                    "(docs/SECURITY.md, moving the key) or log the sessions in again"
                ) from None
            return self._checked(key, path), KeyPlace("file", key_id, f"{path} (mode 0600)")
        backend = self._backend_now()
        name = _keyring_name(backend)
        user = f"session-key-{key_id}"
        try:
            text = backend.get_password(KEYRING_SERVICE, user) if name else None
        except Exception as exc:
            raise VaultError(
                f"the OS keyring did not give the snapshot key ({type(exc).__name__}: {exc}): "
                "sessions cannot restore their saved logins until it does; unlock the keyring"
            ) from None
        if not text:
            raise VaultError(
                f"the OS keyring has no {KEYRING_SERVICE}/{user} entry (or this desktop has no "
                f"keyring): the saved logins in {self.folder} cannot be opened; put the key "
                "back (docs/SECURITY.md, moving the key) or log the sessions in again"
            )
        key = base64.b64decode(text)
        return self._checked(key, None), KeyPlace(
            "keyring", key_id, f"the OS keyring ({name}, {KEYRING_SERVICE}/{user})"
        )

    @staticmethod
    def _checked(key: bytes, path: Path | None) -> bytes:
        if len(key) != 32:
            where = str(path) if path else "the keyring entry"
            raise VaultError(f"{where} does not hold a 256-bit key; restore it from a backup")
        return key

    def _create(self) -> tuple[bytes, KeyPlace]:
        key = AESGCM.generate_key(bit_length=256)
        key_id = secrets.token_hex(8)
        text = base64.b64encode(key).decode()
        backend = self._backend_now()
        name = _keyring_name(backend)
        place: KeyPlace | None = None
        if name:
            user = f"session-key-{key_id}"
            with contextlib.suppress(Exception):  # locked or refused: the file fallback
                backend.set_password(KEYRING_SERVICE, user, text)
                if backend.get_password(KEYRING_SERVICE, user) == text:
                    description = f"the OS keyring ({name}, {KEYRING_SERVICE}/{user})"
                    place = KeyPlace("keyring", key_id, description)
        if place is None:
            path = self.folder / KEY_FILE
            write_private(path, text.encode() + b"\n")
            place = KeyPlace("file", key_id, f"{path} (mode 0600)")
        meta = {"version": 1, "where": place.where, "key_id": key_id}
        write_private(self.folder / META_FILE, json.dumps(meta).encode() + b"\n")
        return key, place

    # ----------------------------------------------------------- seal / open

    def seal(self, data: bytes, *, session_id: str) -> bytes:
        return seal_with(self._key(), data, session_id=session_id)

    def open(self, blob: bytes, *, session_id: str) -> bytes:
        """The clear bytes of a sealed snapshot; clear (legacy) bytes pass through."""
        return open_with(self._key(), blob, session_id=session_id)

    def describe(self) -> str:
        """One line for `doctor`: encrypted, and where the key is (or will be: no key
        is made just to describe it). Raises VaultError when the key cannot be had."""
        if not (self.folder / META_FILE).is_file():
            name = _keyring_name(self._backend_now())
            where = f"the OS keyring ({name})" if name else f"the file {self.folder / KEY_FILE}"
            return f"saved logins will be encrypted (AES-256-GCM); the key will go into {where}"
        place = self.place()
        if place.where == "keyring":
            return f"saved logins are encrypted (AES-256-GCM); the key is in {place.description}"
        return (
            f"saved logins are encrypted (AES-256-GCM); the key is in the file "
            f"{place.description} because this desktop has no usable keyring: protect "
            "this folder (disk encryption) and back the key up (docs/SECURITY.md)"
        )


_VAULTS: dict[Path, Vault] = {}
_VAULTS_LOCK = threading.Lock()


def vault_for(sessions_dir: Path) -> Vault:
    """The process-wide vault of `sessions_dir` (made on first use)."""
    key = Path(sessions_dir).expanduser().resolve()
    with _VAULTS_LOCK:
        vault = _VAULTS.get(key)
        if vault is None:
            vault = _VAULTS[key] = Vault(key)
        return vault


def use_vault(sessions_dir: Path, vault: Vault | None) -> None:
    """Install `vault` for `sessions_dir` (tests: a fake keyring backend); None forgets it."""
    key = Path(sessions_dir).expanduser().resolve()
    with _VAULTS_LOCK:
        if vault is None:
            _VAULTS.pop(key, None)
        else:
            _VAULTS[key] = vault
