"""Command-line options: settings flags before or after an action, every bad value one
line, the window's view names accepted, no test near the real home folder."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser
from app.cli._serve import TerminalView
from tests.conftest import _REAL_HOME
from tests.ui.fakes import qr_event


@pytest.mark.parametrize(
    "argv",
    [
        ["sync", "test", "--central-url", "http://x"],
        ["sync", "--central-url", "http://x", "test"],
    ],
)
def test_settings_flags_work_before_or_after_the_action(argv: list[str]) -> None:
    args = build_parser("sync").parse_args(argv)
    assert args.action == "test" and args.central_url == "http://x"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["gui", "--size", "abc"], "pairdesk gui: argument --size: expected WIDTHxHEIGHT"),
        (["gui", "--demo", "-1"], "pairdesk gui: argument --demo: expected 0 to 500, got -1"),
        (["gui", "--after", "soon"], "pairdesk gui: argument --after: expected seconds"),
        (["gui", "--view", "nowhere"], "pairdesk gui: argument --view: expected one of wall"),
        (["sync", "nope"], "pairdesk sync: argument ACTION: invalid choice: 'nope'"),
    ],
)
def test_a_bad_option_is_one_line_and_status_2(argv: list[str], expected: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(expected), line
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("given", "view"),
    [("wall", "qr"), ("Sessions", "grid"), ("onboard", "onboarding"), ("diagnose", "diagnostics")],
)
def test_view_names_of_the_window_are_accepted(given: str, view: str) -> None:
    assert build_parser("gui").parse_args(["gui", "--view", given]).view == view
    assert build_parser("gui").parse_args(["gui", "--view", view]).view == view


def test_gui_size_is_parsed_once() -> None:
    assert build_parser("gui").parse_args(["gui", "--size", "1024x700"]).size == (1024, 700)


def test_serve_no_qr_prints_one_line_per_qr() -> None:
    out = io.StringIO()
    TerminalView(out, qr_art=False).event(qr_event("s1"))
    [line] = out.getvalue().splitlines()
    assert "s1 [-] QR #1, scan within" in line


def test_tests_never_see_the_real_home() -> None:
    assert Path.home() != Path(_REAL_HOME)
    assert "pairdesk-test-home-" in os.environ["HOME"]
    assert "pairdesk-test-home-" in os.environ["XDG_DATA_HOME"]
