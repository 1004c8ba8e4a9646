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
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import app
from tests.packaging.installed import (
    Installed,
    check_console_paints,
    check_sandbox_page,
    check_serve_shows_a_qr,
)

pytestmark = pytest.mark.bundle

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.pairdesk.Pairdesk"
BUILD_TIMEOUT = 900


@dataclass(frozen=True)
class Bundle:
    folder: Path
    installed: Installed

    @property
    def program(self) -> str:
        return self.installed.program


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
        env=dict(
            os.environ,
            # PyInstaller's cache of processed libraries: a temporary folder that outlives
            # one run (never the home folder), so a re-run is faster.
            PYINSTALLER_CONFIG_DIR=str(Path(tempfile.gettempdir()) / "pairdesk-test-pyinstaller"),
            PYTHONDONTWRITEBYTECODE="1",
        ),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    home, cwd = base / "home", base / "elsewhere"
    home.mkdir()
    cwd.mkdir()
    folder = base / "dist" / "pairdesk"
    yield Bundle(folder, Installed(str(folder / "pairdesk"), home, cwd))


def test_the_bundle_answers_its_version(bundle: Bundle) -> None:
    result = bundle.installed.run(bundle.program, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pairdesk {app.__version__}"


def test_the_bundle_stands_in_for_python_to_run_the_driver_wrapper(bundle: Bundle) -> None:
    # app/engine/browser/launch.py writes a Python script whose first line names
    # sys.executable: in the bundle, `pairdesk -IS SCRIPT ARGS`.
    script = bundle.installed.cwd / "wrapper.py"
    script.write_text("import sys, ctypes, signal\nprint(sys.argv)\n")
    result = bundle.installed.run(bundle.program, "-IS", str(script), "one", "two")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([str(script), "one", "two"])


def test_the_bundle_serves_the_sandbox_page(bundle: Bundle) -> None:
    check_sandbox_page(bundle.installed)


def test_the_console_paints_offscreen_with_its_icon(bundle: Bundle) -> None:
    check_console_paints(bundle.installed)


def test_the_desktop_entry_installs_for_one_user_and_uninstalls(bundle: Bundle) -> None:
    share = bundle.folder / "share"
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    script = str(bundle.folder / "install-desktop-entry.sh")
    result = bundle.installed.run("sh", script)
    assert result.returncode == 0, result.stderr
    home = bundle.installed.home
    data = home / ".local" / "share"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(data / "applications" / f"{APP_ID}.desktop")
    assert entry["Desktop Entry"]["Exec"] == f'"{bundle.program}" gui'
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png").is_file()
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    command = home / ".local" / "bin" / "pairdesk"
    assert command.resolve() == Path(bundle.program).resolve()
    result = bundle.installed.run("sh", script, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not (data / "applications" / f"{APP_ID}.desktop").exists()
    assert not command.exists() and not command.is_symlink()


@pytest.mark.e2e
def test_the_bundle_starts_instances_that_show_a_qr(bundle: Bundle) -> None:
    check_serve_shows_a_qr(bundle.installed)
