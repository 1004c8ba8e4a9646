"""Login state on disk, in the LocalAuth-style layout (the one place that knows it).

    sessions_dir/workspace_{workspace_id}/{session_id}/
        state.json        Playwright storage state, IndexedDB included, sealed with
                          AES-256-GCM (app/engine/vault.py; the name is kept)
        state.prev.json   the snapshot before the last one (fallback when state.json is bad)
        meta.json         what we know about the session (phone, platform, timestamps)
        profile/          Chromium user data dir, profile isolation mode only
        .lock             held with flock while an instance runs the session

Writes are atomic (temp file in the same folder, fsync, rename, fsync of the
folder) so a crash or `kill -9` mid-write leaves either the old or the new
snapshot, never half of one. Folders are 0700 and files 0600: a snapshot is a
logged-in WhatsApp account.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from app.engine.errors import SessionLocked, StateCorrupt
from app.engine.vault import SealedUnreadable, Vault, is_sealed, vault_for

STATE = "state.json"
STATE_PREV = "state.prev.json"
META = "meta.json"
PROFILE = "profile"
LOCK = ".lock"
DIR_MODE = 0o700
FILE_MODE = 0o600


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(fh: BinaryIO, data: bytes) -> None:
    """Every byte pairdesk writes into a session folder goes through here: the seam
    tests replace to make a full disk (ENOSPC) without a full filesystem."""
    fh.write(data)


def is_disk_full(exc: BaseException) -> bool:
    """A write failed for lack of space (or of quota), not for a reason a retry won't fix."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _write_temp(path: Path, data: bytes) -> str:
    """`data` in a synced temp file beside `path` (removed again if writing fails)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write_bytes(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write(path: Path, data: bytes, *, keep_previous: Path | None = None) -> None:
    """Replace `path` with `data` so that readers see the old or the new bytes, never a mix.

    With `keep_previous`, the old file moves there, but only once the new bytes are
    safely on disk: a write that fails (a full disk) leaves both files as they were.
    """
    tmp = _write_temp(path, data)
    try:
        if keep_previous is not None:
            os.replace(path, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def valid_storage_state(data: Any) -> bool:
    """The shape Playwright's `new_context(storage_state=...)` accepts."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("cookies"), list)
        and isinstance(data.get("origins"), list)
        and all(isinstance(o, dict) and isinstance(o.get("origin"), str) for o in data["origins"])
    )


def _read_state(path: Path, session_id: str, vault: Vault) -> dict[str, Any] | None:
    """The storage state in `path` (sealed, or clear from before encryption), or None
    when it is missing, unreadable, malformed or does not open with this key."""
    try:
        data = json.loads(vault.open(path.read_bytes(), session_id=session_id))
    except (OSError, ValueError, SealedUnreadable):
        return None
    return data if valid_storage_state(data) else None


def seal_clear_snapshots(sessions_dir: Path, vault: Vault | None = None) -> int:
    """Encrypt the snapshots written before encryption existed; returns how many.

    Run by an instance at start. A session folder whose run lock is held belongs to
    a running session (which writes sealed snapshots itself) and is skipped.
    """
    vault = vault or vault_for(sessions_dir)
    sealed = 0
    for state in sorted(Path(sessions_dir).glob("workspace_*/*/state*.json")):
        folder = state.parent
        try:
            blob = state.read_bytes()
        except OSError:
            continue
        if is_sealed(blob) or not blob.strip():
            continue
        try:
            if not valid_storage_state(json.loads(blob)):
                continue
        except ValueError:
            continue  # damaged: load_state's fallback rules decide, not this
        try:
            fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            atomic_write(state, vault.seal(blob, session_id=folder.name))
            sealed += 1
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    return sealed


@dataclass(frozen=True)
class LoadedState:
    """A snapshot read from disk; `fallback` is True when state.prev.json had to be used."""

    state: dict[str, Any]
    fallback: bool


class SessionFolder:
    """One session's folder: snapshots, metadata, profile and the run lock."""

    def __init__(self, sessions_dir: Path, workspace_id: int, session_id: str) -> None:
        if not session_id or "/" in session_id or session_id in (".", "..") or "\0" in session_id:
            raise ValueError(f"session id {session_id!r} cannot be used as a folder name")
        self.path = Path(sessions_dir) / f"workspace_{workspace_id}" / session_id
        self.session_id = session_id
        self.vault = vault_for(sessions_dir)
        self._lock_fd: int | None = None
        self._last_written: bytes | None = None

    # ------------------------------------------------------------------ folders

    def exists(self) -> bool:
        return self.path.is_dir()

    def remove(self) -> None:
        """Delete the whole folder (snapshots, meta, profile): the session is forgotten here.

        Only for a session that is not running: its run lock must not be held.
        """
        if self._lock_fd is not None:
            raise RuntimeError(f"session {self.session_id} is running; stop it before removing it")
        shutil.rmtree(self.path, ignore_errors=True)
        self._last_written = None

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        # mkdir's mode is masked by the umask and ignored for existing folders.
        os.chmod(self.path, DIR_MODE)
        os.chmod(self.path.parent, DIR_MODE)

    @property
    def profile_dir(self) -> Path:
        return self.path / PROFILE

    def ensure_profile(self) -> Path:
        self.ensure()
        self.profile_dir.mkdir(exist_ok=True, mode=DIR_MODE)
        os.chmod(self.profile_dir, DIR_MODE)
        return self.profile_dir

    # --------------------------------------------------------------------- lock

    def lock(self) -> None:
        """Take the run lock, or raise `SessionLocked` when another owner holds it.

        flock is per open file description, so a second open in this process
        conflicts too; the kernel drops the lock when the process dies, so a
        `kill -9` never leaves a session locked forever.
        """
        if self._lock_fd is not None:
            raise SessionLocked(self.session_id)
        self.ensure()
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SessionLocked(self.session_id) from None
        # The pid is for people reading the folder; the flock is the lock. On a full
        # disk the write fails, and the session must still run on its saved login.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    # ---------------------------------------------------------------- snapshots

    def has_state(self) -> bool:
        return (self.path / STATE).is_file() or (self.path / STATE_PREV).is_file()

    def load_state(self) -> LoadedState | None:
        """The newest readable snapshot; None when there is none; `StateCorrupt` when
        snapshots exist but none of them can be read."""
        if not self.has_state():
            return None
        current = _read_state(self.path / STATE, self.session_id, self.vault)
        if current is not None:
            return LoadedState(current, fallback=False)
        previous = _read_state(self.path / STATE_PREV, self.session_id, self.vault)
        if previous is not None:
            return LoadedState(previous, fallback=True)
        raise StateCorrupt(self.session_id)

    def save_state(self, state: dict[str, Any]) -> bool:
        """Write a new snapshot, keeping the current one as state.prev.json.

        Returns False (and writes nothing) when the state equals the last one
        written by this folder object, so periodic snapshots cost no disk I/O
        while nothing changes.
        """
        if not valid_storage_state(state):
            raise ValueError("refusing to save a storage state of the wrong shape")
        data = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
        if data == self._last_written:
            return False
        self.ensure()
        current = self.path / STATE
        # Only a good snapshot may become the fallback; a corrupt one is overwritten.
        good = _read_state(current, self.session_id, self.vault) is not None
        sealed = self.vault.seal(data, session_id=self.session_id)
        atomic_write(current, sealed, keep_previous=self.path / STATE_PREV if good else None)
        self._last_written = data
        return True

    def delete_state(self) -> None:
        """Forget the login (logout): snapshots and profile go, meta and lock stay."""
        for name in (STATE, STATE_PREV):
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()
        shutil.rmtree(self.profile_dir, ignore_errors=True)
        self._last_written = None

    # --------------------------------------------------------------------- meta

    def read_meta(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / META).read_bytes())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def update_meta(self, **values: Any) -> None:
        self.ensure()
        meta = self.read_meta() | values
        atomic_write(self.path / META, json.dumps(meta, sort_keys=True, indent=1).encode())


def adopt_localauth(
    source: Path, *, sessions_dir: Path, workspace_id: int, session_id: str, move: bool = False
) -> SessionFolder:
    """Import a whatsapp-web.js LocalAuth folder as a profile-mode session.

    `source` is either the `session-{clientId}` folder itself (a Chromium user
    data dir holding `Default/`) or a `.wwebjs_auth` folder holding exactly one
    such session. Its profile becomes `profile/` of the new session folder,
    so the account opens logged in under `isolation = "profile"` without a
    QR. The source is copied (or moved with `move=True`); it must not be in
    use by a running browser (Chromium's SingletonLock is checked).
    """
    source = Path(source)
    if not (source / "Default").is_dir():
        candidates = [p for p in source.glob("session*") if (p / "Default").is_dir()]
        if len(candidates) != 1:
            raise ValueError(
                f"{source} is not a whatsapp-web.js LocalAuth session folder "
                "(expected a session-<clientId> folder holding a Default/ profile)"
            )
        source = candidates[0]
    if (source / "SingletonLock").is_symlink() or (source / "SingletonLock").exists():
        raise SessionLocked(
            session_id,
            f"{source} is in use by a running Chromium (SingletonLock present); "
            "stop the whatsapp-web.js client first, then adopt the folder",
        )
    folder = SessionFolder(sessions_dir, workspace_id, session_id)
    folder.ensure()
    if folder.profile_dir.exists() and any(folder.profile_dir.iterdir()):
        raise FileExistsError(f"session {session_id} already has a profile; not overwriting it")
    shutil.rmtree(folder.profile_dir, ignore_errors=True)
    if move:
        shutil.move(str(source), folder.profile_dir)
    else:
        shutil.copytree(source, folder.profile_dir, symlinks=True)
    for root, _dirs, files in os.walk(folder.profile_dir):
        os.chmod(root, DIR_MODE)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, FILE_MODE)
    folder.update_meta(adopted_from=str(source), linked=True, isolation="profile")
    return folder
