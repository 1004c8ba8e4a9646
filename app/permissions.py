"""Who may read what pairdesk keeps on disk: the owner only.

The data folder holds phone numbers (the SQLite database and its `-wal` /
`-shm` files), QR codes and the diagnostics bundles; the sessions folder
holds every customer's WhatsApp login. On a shared machine the default umask
(022) would make all of it readable by every local user. So:

- `private_umask()` sets the process umask to 077 at every entry point
  (`app.cli.main`): every file and folder pairdesk, SQLite, Playwright and
  Chromium create is then 0600 / 0700, including the child processes, which
  inherit the umask;
- `secure_folders(...)` narrows an existing data or sessions folder that an
  earlier version (or a sandbox run) left 0755;
- `wider_than_private(...)` lists what is still readable by others, for
  `pairdesk doctor` to warn about.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
SCAN_LIMIT = 20_000  # entries looked at per folder: doctor stays fast on huge profiles


def private_umask() -> int:
    """Make everything this process (and its children) creates owner-only; returns the old mask."""
    return os.umask(PRIVATE_UMASK)


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """`private_umask()` for the duration (restored after, for in-process callers)."""
    old = private_umask()
    try:
        yield
    finally:
        os.umask(old)


def secure_folders(folders: Iterable[Path]) -> None:
    """Narrow existing folders owned by this user to 0700 (others' folders are left alone)."""
    for folder in folders:
        with contextlib.suppress(OSError, RuntimeError):
            if folder.resolve() in (Path.home().resolve(), Path("/")):
                continue  # a data folder set to the home folder: not ours to lock down
            info = folder.stat()
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
                if info.st_mode & 0o077:
                    os.chmod(folder, DIR_MODE)


def wider_than_private(folder: Path, *, limit: int = SCAN_LIMIT) -> list[tuple[Path, int]]:
    """Entries under `folder` (itself included) that group or others may access, with modes.

    Symlinks are not followed (Chromium's profile has a few; their own mode means nothing).
    """
    found: list[tuple[Path, int]] = []
    seen = 0
    stack = [folder]
    while stack and seen < limit:
        path = stack.pop()
        try:
            info = path.lstat()
        except OSError:
            continue
        seen += 1
        if stat.S_ISLNK(info.st_mode):
            continue
        if info.st_mode & 0o077:
            found.append((path, stat.S_IMODE(info.st_mode)))
        if stat.S_ISDIR(info.st_mode):
            with contextlib.suppress(OSError):
                stack.extend(sorted(path.iterdir(), reverse=True))
    return found
