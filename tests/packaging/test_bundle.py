"""`make bundle`'s script builds a desktop bundle that runs on its own.

The bundle is built once for the module into a temporary folder (about 75 s
of PyInstaller on the 2-core CI machine; `-m "not bundle"` leaves it out),
then run from another temporary folder with a temporary home: `--version`,
the `-IS` stand-in for Python that starts Playwright's driver, the sandbox
page, the console painted offscreen, the desktop entry installed and
removed, and (e2e) `serve` up to a QR from an instance the bundle started.
"""

from __future__ import annotations

import configparser
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import app

pytestmark = pytest.mark.bundle

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.pairdesk.Pairdesk"
BUILD_TIMEOUT = 900
RUN_TIMEOUT = 180


class Bundle:
    def __init__(self, folder: Path, home: Path, cwd: Path) -> None:
        self.folder, self.home, self.cwd = folder, home, cwd
        self.program = str(folder / "pairdesk")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            QT_QPA_PLATFORM="offscreen",
        )
        return env | extra

    def run(self, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.cwd,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )

    def start(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.program, *argv],
            cwd=self.cwd,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    base = tmp_path_factory.mktemp("bundle")
    build = subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build_bundle.py"),
            "--dist",
            str(base / "dist"),
            "--work",
            str(base / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    home, cwd = base / "home", base / "elsewhere"
    home.mkdir()
    cwd.mkdir()
    yield Bundle(base / "dist" / "pairdesk", home, cwd)


def test_the_bundle_answers_its_version(bundle: Bundle) -> None:
    result = bundle.run(bundle.program, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pairdesk {app.__version__}"


def test_the_bundle_stands_in_for_python_to_run_the_driver_wrapper(bundle: Bundle) -> None:
    # app/engine/browser/launch.py writes a Python script whose first line names
    # sys.executable: in the bundle, `pairdesk -IS SCRIPT ARGS`.
    script = bundle.cwd / "wrapper.py"
    script.write_text("import sys, ctypes, signal\nprint(sys.argv)\n")
    result = bundle.run(bundle.program, "-IS", str(script), "one", "two")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([str(script), "one", "two"])


def test_the_bundle_serves_the_sandbox_page(bundle: Bundle) -> None:
    proc = bundle.start("sandbox", "--port", "0")
    try:
        url = _wait_for_line(proc, r"sandbox: (http://\S+)")
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200
        assert "{{SCRIPT}}" not in page.text and "WAWebSocketModel" in page.text
    finally:
        _interrupt(proc)


def test_the_console_paints_offscreen_with_its_icon(bundle: Bundle) -> None:
    shot = bundle.cwd / "console.png"
    result = bundle.run(
        bundle.program, "gui", "--demo-engine", "--screenshot", str(shot), "--after", "1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert shot.stat().st_size > 10_000


def test_the_desktop_entry_installs_for_one_user_and_uninstalls(bundle: Bundle) -> None:
    share = bundle.folder / "share"
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    script = str(bundle.folder / "install-desktop-entry.sh")
    result = bundle.run("sh", script)
    assert result.returncode == 0, result.stderr
    data = bundle.home / ".local" / "share"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(data / "applications" / f"{APP_ID}.desktop")
    assert entry["Desktop Entry"]["Exec"] == f'"{bundle.program}" gui'
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png").is_file()
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    command = bundle.home / ".local" / "bin" / "pairdesk"
    assert command.resolve() == Path(bundle.program).resolve()
    result = bundle.run("sh", script, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not (data / "applications" / f"{APP_ID}.desktop").exists()
    assert not command.exists() and not command.is_symlink()


@pytest.mark.e2e
def test_the_bundle_starts_instances_that_show_a_qr(bundle: Bundle) -> None:
    proc = bundle.start("serve", "--demo", "1", "--instances", "1", "--no-qr")
    try:
        _wait_for_line(proc, r"QR #1")
    finally:
        code = _interrupt(proc)
    assert code in (0, 130), f"serve exited with {code}"


def _wait_for_line(proc: subprocess.Popen[str], pattern: str) -> str:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found.group(1) if found.groups() else found.group(0)
    raise AssertionError(f"the process ended without printing {pattern!r}:\n{''.join(seen)}")


def _interrupt(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this test started
        proc.wait()
        raise
