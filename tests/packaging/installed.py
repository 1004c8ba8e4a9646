"""An installed pairdesk (the wheel's venv or the desktop bundle), run as a user would.

Both packaging tests check the same things on what they built, through the
checks at the end of this module: the sandbox page served, the console
painted offscreen, `serve` up to a QR from an instance it started.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

RUN_TIMEOUT = 180


@dataclass(frozen=True)
class Installed:
    """`program` run from `cwd` (outside the checkout) with `home` as the user's home."""

    program: str
    home: Path
    cwd: Path

    def env(self) -> dict[str, str]:
        """Only what a user's shell would pass, the temporary home, an offscreen display."""
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "PIP_CONFIG_FILE")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            QT_QPA_PLATFORM="offscreen",
        )
        return env

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=self.cwd, env=self.env(), capture_output=True, text=True, timeout=RUN_TIMEOUT
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.program, *args],
            cwd=self.cwd,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group: see `interrupt`
        )


def wait_for_line(proc: subprocess.Popen[str], pattern: str) -> str:
    """The first group (or the whole match) of the first output line matching `pattern`."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found.group(1) if found.groups() else found.group(0)
    raise AssertionError(f"the process ended without printing {pattern!r}:\n{''.join(seen)}")


def interrupt(proc: subprocess.Popen[str]) -> int:
    """Ctrl+C, as a user would; the process stops its instances and browsers itself.

    If it does not exit in time, its process group (which only this test
    started) is killed and the test fails.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def check_sandbox_page(installed: Installed) -> None:
    """`pairdesk sandbox` serves the login page with its packaged scripts inlined."""
    proc = installed.start("sandbox", "--port", "0")
    try:
        url = wait_for_line(proc, r"sandbox: (http://\S+)")
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200
        assert "{{SCRIPT}}" not in page.text  # the template was filled
        assert "WAWebSocketModel" in page.text  # modules.js, inlined
        assert "new WebSocket(config.wsUrl)" in page.text  # login.js, inlined
    finally:
        interrupt(proc)


def check_console_paints(installed: Installed) -> None:
    """`pairdesk gui` opens the console offscreen and paints it."""
    shot = installed.cwd / "console.png"
    result = installed.run(
        installed.program, "gui", "--demo-engine", "--screenshot", str(shot), "--after", "1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert shot.stat().st_size > 10_000


def check_serve_shows_a_qr(installed: Installed) -> None:
    """`pairdesk serve` starts an instance (Chromium, the sandbox page) up to a QR."""
    proc = installed.start("serve", "--demo", "1", "--instances", "1", "--no-qr")
    try:
        wait_for_line(proc, r"QR #1")
    finally:
        code = interrupt(proc)
    assert code in (0, 130), f"serve exited with {code}"
