"""The console's display: libraries found by `ldd`, the Qt plugin probed in a
child process on a real X display (Xvfb), and `pairdesk gui` falling back to
the terminal view with one line instead of aborting."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from app.cli import _gui
from app.config import Settings
from app.engine import qt_platform
from app.engine.doctor import check_display
from tests.xvfb_support import xvfb

LDD_OUTPUT = """\
\tlibQt6XcbQpa.so.6 => /x/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => /lib/libxcb-keysyms.so.1 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibweird.so.3 => not found
"""


def _display_env(display: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = display
    return env


def test_ldd_output_names_the_debian_packages() -> None:
    assert qt_platform.parse_ldd(LDD_OUTPUT) == ["libxcb-cursor0", "libxcb-icccm4", "libweird.so.3"]
    assert qt_platform.apt_line(["libxcb-cursor0"]) == "sudo apt-get install -y libxcb-cursor0"


def test_this_machine_has_every_library_of_the_xcb_plugin() -> None:
    assert qt_platform.xcb_plugin() is not None
    assert qt_platform.missing_packages() == []


def test_qt_starts_on_a_real_x_display() -> None:
    with xvfb() as display:
        found = qt_platform.probe(_display_env(display))
    assert found.ok, found
    assert found.detail == "xcb"


def test_a_display_that_does_not_answer_is_reported_not_aborted(tmp_path: Path) -> None:
    with xvfb() as display:
        pass  # stopped: the number is now free and nobody answers there
    found = qt_platform.probe(_display_env(display))
    assert not found.ok
    assert found.detail == f"cannot connect to display {display}"
    assert display in found.advice


async def test_doctor_checks_the_plugin_on_a_real_display(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with xvfb() as display:
        monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        monkeypatch.setenv("DISPLAY", display)
        [result] = await check_display(Settings())
    assert result.ok, result
    assert "'xcb' loads" in result.detail


async def test_doctor_names_the_missing_libraries_and_the_apt_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(qt_platform, "missing_packages", lambda: ["libxcb-cursor0"])
    [result] = await check_display(Settings())
    assert not result.ok
    assert "libxcb-cursor0" in result.detail
    assert result.advice == "sudo apt-get install -y libxcb-cursor0"


def test_gui_falls_back_to_the_terminal_view_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(qt_platform, "missing_packages", lambda: ["libxcb-cursor0"])
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    calls: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        calls.append(argv)
        return 0

    monkeypatch.setattr("app.cli.main", fake_main)
    parser = argparse.ArgumentParser()
    _gui.add_arguments(parser)
    assert _gui.run(parser.parse_args(["--demo", "2"])) == 0
    assert calls == [["serve", "--demo", "2"]]
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "the console cannot open" in line
    assert "sudo apt-get install -y libxcb-cursor0" in line
    assert line.endswith("starting the terminal view instead")


def test_the_console_opens_on_a_real_x_display(tmp_path: Path) -> None:
    """`pairdesk gui` on Xvfb (the xcb plugin, not offscreen): a window, painted, exit 0."""
    import subprocess
    import sys

    shot = tmp_path / "console.png"
    with xvfb() as display:
        env = _display_env(display) | {"HOME": str(tmp_path)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "app",
                "gui",
                "--demo-engine",
                "--data-dir",
                str(tmp_path / "data"),
                "--screenshot",
                str(shot),
                "--after",
                "1",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminal view" not in done.stderr
    assert shot.stat().st_size > 10_000
