"""Where the webhook secret lives when it is not typed into `pairdesk.toml`.

The first-run dialog never writes the secret into `pairdesk.toml`: it goes
into the OS keyring (Secret Service or KWallet on Linux, the Keychain on
macOS, the Credential Manager on Windows) when this desktop has one, else
into a file only its owner can read (mode 0600, in the user config folder),
and `pairdesk.toml` only says where (`webhook_secret_keyring = true` or
`webhook_secret_file = "..."`).

A keyring counts as usable when `keyring` picks a real backend (priority 1
or more): the "fail" and "null" backends, and plaintext ones from third
parties, are not. Every call takes the backend as an argument so tests use
an in-memory one and never touch the machine's keyring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.permissions import write_private

KEYRING_SERVICE = "pairdesk"
KEYRING_NAME = "webhook_secret"
SECRET_FILE_NAME = "webhook.secret"
MIN_PRIORITY = 1  # keyring's "fail" backend is 0 and "null" is -1


class SecretStoreError(Exception):
    """The secret could not be stored or read; the message says what to do."""


@dataclass(frozen=True)
class StoredSecret:
    """Where a secret went: `keyring` (then `path` is None) or `file`."""

    where: str
    description: str
    path: Path | None = None
    note: str = ""  # why the keyring was not used, when it was not


def default_backend() -> Any:
    import keyring

    return keyring.get_keyring()


def usable_keyring(backend: Any) -> str:
    """The backend's name when it can keep secrets, else ''."""
    if backend is None:
        return ""
    try:
        priority = float(backend.priority)
    except Exception:  # a backend whose viability check fails is not usable
        return ""
    if priority < MIN_PRIORITY:
        return ""
    return str(getattr(backend, "name", type(backend).__name__))


def save_secret(secret: str, *, config_dir: Path, backend: Any = None) -> StoredSecret:
    """Keep `secret` in the keyring, else in `config_dir/webhook.secret` (0600)."""
    if not secret.strip():
        raise SecretStoreError("the webhook secret is empty; paste the secret the platform uses")
    secret = secret.strip()
    name = usable_keyring(backend)
    note = "this desktop has no keyring service"
    if name:
        try:
            backend.set_password(KEYRING_SERVICE, KEYRING_NAME, secret)
            if backend.get_password(KEYRING_SERVICE, KEYRING_NAME) == secret:
                return StoredSecret("keyring", f"the system keyring ({name})")
            note = "the keyring did not give the secret back"
        except Exception as exc:  # locked, refused or broken keyrings all fall back to a file
            note = f"the keyring refused it ({type(exc).__name__}: {exc})"
    path = config_dir / SECRET_FILE_NAME
    write_private_file(path, secret + "\n")
    return StoredSecret("file", f"{path} (readable only by you)", path=path, note=note)


def read_keyring_secret(backend: Any = None) -> str:
    """The secret kept by `save_secret` in the keyring; raises with what to do."""
    if backend is None:
        try:
            backend = default_backend()
        except Exception as exc:
            raise SecretStoreError(f"the keyring cannot be opened ({exc})") from None
    if not usable_keyring(backend):
        raise SecretStoreError(
            "webhook_secret_keyring is set but this desktop has no keyring service; "
            "set webhook_secret_file to a file holding the secret instead"
        )
    try:
        secret = backend.get_password(KEYRING_SERVICE, KEYRING_NAME)
    except Exception as exc:
        raise SecretStoreError(
            f"the keyring did not give the webhook secret ({type(exc).__name__}: {exc}); "
            "unlock the keyring, or set webhook_secret_file instead"
        ) from None
    if not secret:
        raise SecretStoreError(
            f"the keyring holds no {KEYRING_SERVICE}/{KEYRING_NAME} entry; run the first-run "
            "setup again (remove pairdesk.toml) or set webhook_secret_file"
        )
    return str(secret)


def write_private_file(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write `text` to `path` atomically, readable and writable only by its owner, in a
    0700 folder; `app.permissions.write_private` says how (a crash leaves the old file
    or none, never half a secret). Any failure is a `SecretStoreError`, except one:
    with `exclusive`, a file already at `path` is left as it was and raises
    `FileExistsError`, for the caller to say what that file means."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:  # a FileExistsError here is the folder, never `path`
        raise SecretStoreError(f"cannot write {path} ({exc.strerror})") from None
    try:
        write_private(path, text.encode("utf-8"), exclusive=exclusive)
    except OSError as exc:
        if exclusive and isinstance(exc, FileExistsError):
            raise
        raise SecretStoreError(f"cannot write {path} ({exc.strerror})") from None
