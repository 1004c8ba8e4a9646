"""The lease watchdog kills a frozen member's browser processes at the deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from app.fleet.clock import now
from app.fleet.watchdog_client import Watchdog

# A stand-in member: a Python process with one child (standing in for Chromium).
MEMBER = (
    "import subprocess, time\n"
    "child = subprocess.Popen(['sleep', '300'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(300)\n"
)


@pytest.fixture
def member() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc = subprocess.Popen([sys.executable, "-c", MEMBER], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    child_pid = int(proc.stdout.readline())
    try:
        yield proc, child_pid
    finally:
        for pid in (child_pid, proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


def _gone(pid: int, timeout: float = 15.0) -> bool:
    """Dead (a zombie counts: a stopped parent cannot reap it); the timeout is a guard."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_frozen_member_loses_its_browser_at_the_deadline(
    member: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, child = member
    dog = Watchdog(member_pid=proc.pid)
    dog.start()
    try:
        os.kill(proc.pid, signal.SIGSTOP)  # the member's Python cannot do anything now
        dog.arm(now() + 0.5)
        assert _gone(child)
        assert _alive(proc.pid)  # only the browser side is killed, never the member
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        dog.close()


def test_a_disarmed_watchdog_kills_nothing(member: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, child = member
    dog = Watchdog(member_pid=proc.pid)
    dog.start()
    try:
        dog.arm(now() + 0.3)
        dog.disarm()
        dog.arm(now() + 3600)
        time.sleep(1.0)
        assert _alive(child)
    finally:
        dog.close()
    assert _alive(child)  # a clean close kills nothing either


def test_the_member_gone_while_armed_fires_at_once(
    member: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, child = member
    dog = Watchdog(member_pid=proc.pid)
    dog.start()
    dog.arm(now() + 3600)
    assert dog._proc is not None and dog._proc.stdin is not None
    dog._proc.stdin.close()  # what the kernel does when the member dies
    assert _gone(child)
    dog._proc.wait(timeout=15)
