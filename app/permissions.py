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
  `pairdesk doctor` to warn about;
- `write_private(...)` is the one writer of a whole owner-only file (a key, a
  secret, a results file): atomic, 0600 from the first byte whatever the
  umask, and, when asked, never over a file already there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
SCAN_LIMIT = 20_000  # entries looked at per folder: doctor stays fast on huge profiles
# what `link` says on a filesystem without hard links (FAT, exFAT, some network shares)
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})


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


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """`data` as the whole of `path`, a file only its owner can read or write (0600).

    The bytes go to a temporary file beside `path`, created 0600 (whatever the
    umask) before the first byte, synced to disk, then renamed onto `path`: a
    crash or a failed write leaves the old file (or none), never part of one,
    and an older file's wider mode goes with it. The temporary file is removed
    on any failure, which is raised as it came (callers word their own errors).

    `exclusive`: never over a file already at `path` (a symlink, even a dangling
    one, counts): `FileExistsError`, and that file is left as it was. The new
    file is hard-linked to `path`, which fails atomically when the name is taken,
    so a file that appears meanwhile is never written over. Where the filesystem
    has no hard links, the name is claimed with an empty file (`O_EXCL`) and the
    temporary file renamed onto it: a crash may then leave that empty file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), FILE_MODE)  # 0600 & ~umask from mkstemp: exactly 0600
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            _link_new(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _link_new(tmp: str, path: Path) -> None:
    """The complete file `tmp` at `path`, which must not exist yet; `tmp` goes away."""
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise  # FileExistsError among them
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        try:
            os.replace(tmp, path)  # onto the empty file claimed just above
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return
    with contextlib.suppress(OSError):  # `path` is whole; a temp left behind is only clutter
        os.unlink(tmp)
