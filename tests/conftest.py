"""Fixtures of the whole test run.

`no_chromium_survives`: every Chromium process that descends from this pytest
process is remembered while the run goes on (a sampler thread, because a
Chromium whose instance was killed with `kill -9` is reparented and is no
longer our descendant by the time the run ends); at the end each one must be
gone. Only processes this run started are ever looked at, and only those are
killed if they survived (after the failure is reported).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator

import psutil
import pytest

# No test, and no instance a test starts, ever reaches the machine's own keyring (the
# snapshot key would land there): keyring's "fail" backend means the 0600 key-file
# fallback; tests of the keyring path pass an in-memory backend (keyring_fakes.py).
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

SAMPLE_INTERVAL = 0.2
EXIT_GRACE = 30.0  # seconds a closing browser gets to exit after the last test


def _is_chromium(proc: psutil.Process) -> bool:
    name = proc.name().lower()
    return "chrom" in name or "headless_shell" in name


class ChromiumWatch:
    """Remembers (pid, create_time) of every Chromium descended from `root`."""

    def __init__(self, root: int) -> None:
        self._root = psutil.Process(root)
        self.seen: dict[tuple[int, float], psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chromium-watch", daemon=True)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            self.sample()

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            for proc in self._root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if _is_chromium(proc):
                        self.seen.setdefault((proc.pid, proc.create_time()), proc)

    def survivors(self) -> list[psutil.Process]:
        """The remembered processes still running (the same process: pid and start time)."""
        alive = []
        for proc in self.seen.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
        return alive


@pytest.fixture(scope="session", autouse=True)
def no_chromium_survives() -> Iterator[ChromiumWatch]:
    watch = ChromiumWatch(os.getpid())
    watch.start()
    yield watch
    watch.stop()
    _gone, alive = psutil.wait_procs(watch.survivors(), timeout=EXIT_GRACE)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    described = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            described.append(f"{proc.pid} {proc.name()} {' '.join(proc.cmdline()[:2])}")
            proc.kill()  # ours (pid and start time match what this run started)
    assert not described, (
        f"{len(described)} Chromium process(es) this test run started outlived it "
        f"(killed now): {described}"
    )


# Settings default to folders under the home (~/.local/share/pairdesk, ~/.config): a test
# that forgets to pass its own must still not touch the real ones. Set at import, before
# any test (or child process it starts) reads them.
_REAL_HOME = os.environ.get("HOME", "")
# Playwright's own Chromium lives under the real home: keep finding it there.
if _REAL_HOME:
    os.environ.setdefault(
        "PLAYWRIGHT_BROWSERS_PATH", os.path.join(_REAL_HOME, ".cache", "ms-playwright")
    )
_TEST_HOME = tempfile.mkdtemp(prefix="pairdesk-test-home-")
os.environ["HOME"] = _TEST_HOME
os.environ["XDG_DATA_HOME"] = os.path.join(_TEST_HOME, ".local", "share")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_TEST_HOME, ".config")
atexit.register(shutil.rmtree, _TEST_HOME, True)
