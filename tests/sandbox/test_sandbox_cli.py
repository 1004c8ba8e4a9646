"""`pairdesk sandbox` prints its URL, serves the page (and with --central the
reference central API on the same port), and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_sandbox() -> Iterator:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "sandbox", "--port", "0", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        lines = []
        for _ in range(2 if "--central" in args else 1):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line.strip())
        return proc, lines

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def test_prints_url_serves_and_stops_on_sigterm(run_sandbox) -> None:
    proc, lines = run_sandbox("--time-scale", "0.05", "--flavour", "dom", "--central")
    name, url = lines[0].split(" ", 1)
    assert name == "sandbox:" and url.startswith("http://127.0.0.1:") and url.endswith("/")
    assert lines[1] == f"central: {url}"
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "sandbox-config" in page.text
    stats = httpx.get(url + "sandbox/stats", timeout=10).json()
    assert stats["faults"]["flavour"] == "dom"
    assert httpx.get(url + "central/events", timeout=10).status_code == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_bad_time_scale_is_one_clear_line(run_sandbox) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "app", "sandbox", "--time-scale", "fast"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "time_scale" in proc.stderr and "Traceback" not in proc.stderr
