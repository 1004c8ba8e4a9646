"""The flags pairdesk's Chromium runs with: one `--disable-features` holding
Playwright's list and pairdesk's, so neither switches the other's back on."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import psutil
import pytest

from app.config import Settings
from app.engine.browser.launch import ChromiumLauncher, NoDisplay
from app.engine.chromium import (
    DISABLED_FEATURES,
    disabled_features_of,
    find_chromium,
    is_headless_shell,
    merged_disable_features,
)


def test_the_last_disable_features_flag_is_the_one_that_counts() -> None:
    argv = ["chromium", "--disable-features=A,B", "--no-sandbox", "--disable-features=C"]
    assert disabled_features_of(argv) == ["C"]
    assert disabled_features_of(["chromium"]) == []


def test_merging_keeps_both_lists_once_defaults_first() -> None:
    assert merged_disable_features(["A", "B"], ["B", "C"]) == "--disable-features=A,B,C"


@pytest.mark.e2e
async def test_browsers_keep_playwrights_features_off_and_have_no_omnibox_webui() -> None:
    launcher = ChromiumLauncher(Settings())
    await launcher.start()
    try:
        browser = await launcher.launch()
        try:
            context = await browser.new_context()
            await (await context.new_page()).goto("about:blank")
            cdp = await browser.new_browser_cdp_session()
            targets = (await cdp.send("Target.getTargets"))["targetInfos"]
            # Only the page: no chrome://omnibox-popup.top-chrome/ renderer per context.
            assert [t["type"] for t in targets] == ["page"]
            argv = await asyncio.to_thread(_browser_argv)
        finally:
            await browser.close()
    finally:
        await launcher.aclose()
    # Chromium honours only the last flag: it must hold every earlier one's names.
    off = disabled_features_of(argv)
    assert set(DISABLED_FEATURES) <= set(off)
    for flag in [a for a in argv if a.startswith("--disable-features=")]:
        assert set(disabled_features_of([flag])) <= set(off), "Playwright's list still applies"
    assert len(off) > len(DISABLED_FEATURES)


def _browser_argv() -> list[str]:
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            argv = proc.cmdline()
            if "--remote-debugging-pipe" in argv and not any(a.startswith("--type=") for a in argv):
                return argv
    raise AssertionError("no Chromium browser process among this test's descendants")


def _executables(folder: Path, *names: str) -> str:
    for name in names:
        path = folder / name
        path.write_text("#!/bin/sh\n", encoding="utf-8")
        path.chmod(0o700)
    return str(folder)


def test_sessions_run_in_the_headless_shell_beside_the_system_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _executables(tmp_path, "chromium", "chromium-headless-shell"))
    choice = find_chromium("", environ={})
    assert choice.path == str(tmp_path / "chromium")  # windows
    assert choice.session_path == str(tmp_path / "chromium-headless-shell")


def test_without_a_headless_shell_the_full_chromium_runs_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _executables(tmp_path, "chromium"))
    choice = find_chromium("", environ={})
    assert choice.headless_path is None
    assert choice.session_path == choice.path == str(tmp_path / "chromium")


def test_a_configured_chromium_runs_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _executables(tmp_path, "chromium", "chromium-headless-shell"))
    (tmp_path / "mine").mkdir()
    mine = Path(_executables(tmp_path / "mine", "chrome")) / "chrome"
    choice = find_chromium(str(mine), environ={})
    assert choice.session_path == choice.path == str(tmp_path / "mine" / "chrome")


def test_a_headless_shell_alone_runs_sessions_and_is_known_to_open_no_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _executables(tmp_path, "chromium-headless-shell"))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "none"))
    choice = find_chromium("", environ={})
    assert choice.session_path == str(tmp_path / "chromium-headless-shell")
    assert is_headless_shell(choice.path)
    assert not is_headless_shell(str(tmp_path / "chromium"))


@pytest.mark.e2e
async def test_sessions_launch_in_the_headless_shell_when_one_is_installed() -> None:
    choice = find_chromium(Settings().chromium)
    if choice.headless_path is None:
        pytest.skip("no headless shell installed (make setup adds Debian's)")
    launcher = ChromiumLauncher(Settings())
    await launcher.start()
    try:
        browser = await launcher.launch()
        try:
            argv = await asyncio.to_thread(_browser_argv)
        finally:
            await browser.close()
    finally:
        await launcher.aclose()
    # Debian's wrapper script execs /usr/lib/chromium/chromium-headless-shell.
    assert "headless" in Path(argv[0]).name and "shell" in Path(argv[0]).name


def test_a_launcher_script_that_does_not_exec_is_looked_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = (
        Path(_executables(tmp_path / "lib", "chromium-headless-shell"))
        if (tmp_path / "lib").mkdir() is None
        else tmp_path
    )
    script = tmp_path / "bin" / "chromium-headless-shell"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh -e\n\n{real}/chromium-headless-shell "$@"\n', encoding="utf-8")
    script.chmod(0o700)
    monkeypatch.setenv("PATH", f"{_executables(tmp_path / 'bin', 'chromium')}")
    choice = find_chromium("", environ={})
    # The parent-death signal must reach the browser itself, not a shell around it.
    assert choice.session_path == str(real / "chromium-headless-shell")


@pytest.mark.e2e
async def test_a_headless_shell_asked_for_a_window_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    choice = find_chromium(Settings().chromium)
    if choice.headless_path is None:
        pytest.skip("no headless shell installed (make setup adds Debian's)")
    monkeypatch.setenv("DISPLAY", ":0")  # a display is there; the binary is the problem
    launcher = ChromiumLauncher(Settings(chromium=choice.headless_path), tie_to_parent=False)
    await launcher.start()
    try:
        with pytest.raises(NoDisplay, match="headless shell.*apt-get install chromium"):
            await launcher.launch_window()
    finally:
        await launcher.aclose()
