"""`pairdesk gui` asks the first-run question only when a person can answer and nothing is set."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from app.cli import _gui


def args(**given: object) -> argparse.Namespace:
    values = dict(demo=0, screenshot=None, demo_engine=False, headless=False, config_file=None)
    values.update(given)
    return argparse.Namespace(**values)


@pytest.fixture
def desktop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user on a real display: no configuration anywhere."""
    for name in list(os.environ):
        if name.startswith("PAIRDESK_") or name == "QT_QPA_PLATFORM":
            monkeypatch.delenv(name)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_fresh_desktop_is_asked(desktop: Path) -> None:
    assert _gui._asks_first_run(args())


@pytest.mark.parametrize(
    "given",
    [
        {"demo": 3},  # make run
        {"screenshot": "shot.png"},
        {"demo_engine": True},
        {"headless": True},
        {"config_file": "site.toml"},
    ],
)
def test_scripted_or_configured_runs_are_never_asked(desktop: Path, given: dict) -> None:
    assert not _gui._asks_first_run(args(**given))


@pytest.mark.parametrize("platform", ["offscreen", "minimal"])
def test_nobody_can_answer_offscreen(
    desktop: Path, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", platform)
    assert not _gui._asks_first_run(args())


def test_a_config_file_in_the_user_folder_ends_the_question(desktop: Path) -> None:
    path = desktop / "cfg" / "pairdesk" / "pairdesk.toml"
    path.parent.mkdir(parents=True)
    path.write_text("# try the sandbox\n")
    assert not _gui._asks_first_run(args())
    assert _gui._config_in_use(args()) == path
