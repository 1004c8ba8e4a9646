"""The lease watchdog: closes a member's Chromium at the local lease deadline.

A separate process (`python -m app.fleet.watchdog --member-pid PID`), started
by the member in a session of its own, so freezing the member (SIGSTOP, a
debugger, swap storms, a stuck event loop) does not freeze it. The member
writes one line per change on the watchdog's stdin:

    arm DEADLINE     DEADLINE on `app.fleet.clock` (CLOCK_BOOTTIME, the same
                     for every process of the machine, counting suspend)
    disarm           the member holds no lease (nothing to close)

At the deadline, if still armed, every descendant process of the member
(the Playwright driver and Chromium, whatever their names) is killed with
SIGKILL: the pages are gone before any other member may take their sessions
over (docs/FLEET.md, "Why two pages of one session are never open at once").
When stdin closes (the member exited or died) an armed watchdog fires at
once and exits. It prints one line per firing on stderr for the member's log.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys

import psutil

from app.fleet.clock import now


def kill_descendants(member_pid: int) -> int:
    """SIGKILL every descendant of the member except this process; how many were killed."""
    try:
        member = psutil.Process(member_pid)
        children = member.children(recursive=True)
    except psutil.Error:
        return 0
    killed = 0
    for child in children:
        if child.pid == os.getpid():
            continue
        try:
            child.send_signal(signal.SIGKILL)
            killed += 1
        except psutil.Error:
            pass
    return killed


def _fire(member_pid: int, why: str) -> None:
    killed = kill_descendants(member_pid)
    print(
        f"pairdesk watchdog: {why}; killed {killed} browser process(es) of member {member_pid}",
        file=sys.stderr,
        flush=True,
    )


def run(member_pid: int, stdin_fd: int = 0) -> int:
    deadline: float | None = None
    buffer = b""
    while True:
        timeout = None if deadline is None else max(0.0, deadline - now())
        ready, _, _ = select.select([stdin_fd], [], [], timeout)
        if not ready:
            if deadline is not None and now() >= deadline:
                _fire(member_pid, "lease deadline passed without a renewal")
                deadline = None
            continue
        chunk = os.read(stdin_fd, 4096)
        if not chunk:
            if deadline is not None:
                _fire(member_pid, "member gone while holding leases")
            return 0
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            words = line.decode("ascii", "replace").split()
            if words[:1] == ["arm"] and len(words) == 2:
                deadline = float(words[1])
            elif words[:1] == ["disarm"]:
                deadline = None
        if deadline is not None and now() >= deadline:
            _fire(member_pid, "lease deadline already passed")
            deadline = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.fleet.watchdog")
    parser.add_argument("--member-pid", type=int, required=True)
    args = parser.parse_args(argv)
    # The member's Ctrl+C must not kill the watchdog before the member released its leases.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return run(args.member_pid)


if __name__ == "__main__":
    sys.exit(main())
