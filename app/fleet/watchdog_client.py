"""The member's end of the watchdog (app/fleet/watchdog.py): start it, arm it, stop it."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)


class Watchdog:
    """A watchdog process for this member; `arm(deadline)` with an `app.fleet.clock.now()` value."""

    def __init__(self, member_pid: int | None = None) -> None:
        self._member_pid = member_pid or os.getpid()
        self._proc: subprocess.Popen[bytes] | None = None
        self._armed: float | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        # A session of its own: a signal to the member's process group (SIGSTOP from a
        # terminal, a supervisor's group kill) does not reach the watchdog.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "app.fleet.watchdog", "--member-pid", str(self._member_pid)],
            stdin=subprocess.PIPE,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("PAIRDESK_")},
        )

    def arm(self, deadline: float) -> None:
        if self._armed == deadline:
            return
        self._armed = deadline
        self._send(f"arm {deadline:.3f}\n")

    def disarm(self) -> None:
        if self._armed is None:
            return
        self._armed = None
        self._send("disarm\n")

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _send(self, line: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(line.encode("ascii"))
            proc.stdin.flush()
        except OSError as exc:
            log.error("the lease watchdog is gone (%s); this member cannot run sessions", exc)

    def close(self) -> None:
        """Disarm, then close its stdin: it exits without killing anything."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                if self._armed is not None:
                    proc.stdin.write(b"disarm\n")
                proc.stdin.close()
        self._armed = None
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
