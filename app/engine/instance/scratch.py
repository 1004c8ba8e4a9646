"""A private temp folder per instance process, and the removal of dead ones' leftovers.

Playwright's driver makes a `playwright_chromiumdev_profile-*` folder (and
`playwright-artifacts-*`) in the temp folder for every browser it launches,
and removes it when the browser closes. After a `kill -9` of the instance
nobody removes it, and each holds a Chromium profile (tens of MB, cookies).

So each instance process points `TMPDIR` (which the driver and Chromium
inherit) at a folder of its own, named after its pid and start time:
`<temp>/pairdesk-<uid>/run-<pid>-<start>`. On start it removes the folders
of runs whose process no longer lives. Another instance on the same machine
is alive, so its folder is left alone; a pid reused by an unrelated process
has another start time, so a dead run's folder is never kept by mistake.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

_PREFIX = "run-"


# Chromium makes its singleton socket at TMPDIR/org.chromium.Chromium.XXXXXX/
# SingletonSocket (45 characters more) and aborts when the path exceeds the
# 107 bytes a Unix socket path may have: keep the run folder's path short.
MAX_SCRATCH_PATH = 60


def scratch_root(base: Path | None = None) -> Path:
    """`<temp>/pairdesk-<uid>`, owned by this user and closed to others."""
    root = (base or Path(tempfile.gettempdir())) / f"pairdesk-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    info = root.lstat()
    if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
        raise RuntimeError(f"{root} is not a folder owned by this user; remove it")
    os.chmod(root, 0o700)
    return root


def _start_stamp(proc: psutil.Process) -> int:
    return int(proc.create_time() * 100)


def _alive(name: str) -> bool:
    """Whether the run named `run-<pid>-<start>` is a live process."""
    try:
        pid_text, stamp_text = name[len(_PREFIX) :].split("-", 1)
        pid, stamp = int(pid_text), int(stamp_text)
    except ValueError:
        return True  # not ours to judge: leave it
    try:
        return _start_stamp(psutil.Process(pid)) == stamp
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # cannot tell: keep it


def remove_dead_runs(root: Path) -> list[Path]:
    """Remove the scratch folders of runs that no longer live; returns them."""
    removed: list[Path] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in root.iterdir():
            if not entry.name.startswith(_PREFIX) or not entry.is_dir() or entry.is_symlink():
                continue
            if _alive(entry.name):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed


def claim_scratch(root: Path | None = None) -> Path:
    """Make this process's scratch folder, point `TMPDIR` at it (for the children
    started from now on), and remove the leftovers of dead runs."""
    root = root if root is not None else scratch_root()
    name = f"{_PREFIX}{os.getpid()}-{_start_stamp(psutil.Process())}"
    if len(str(root / name)) > MAX_SCRATCH_PATH and Path("/tmp").is_dir():
        root = scratch_root(Path("/tmp"))  # a long TMPDIR: Chromium could not start
    removed = remove_dead_runs(root)
    if removed:
        log.info("removed %d temp folder(s) left by instances that were killed", len(removed))
    own = root / name
    own.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(own)
    return own


def release_scratch(own: Path) -> None:
    """Remove this process's scratch folder on a clean exit."""
    shutil.rmtree(own, ignore_errors=True)
