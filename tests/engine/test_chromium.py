"""The flags pairdesk's Chromium runs with: one `--disable-features` holding
Playwright's list and pairdesk's, so neither switches the other's back on."""

from __future__ import annotations

import asyncio
import contextlib

import psutil
import pytest

from app.config import Settings
from app.engine.browser.launch import ChromiumLauncher
from app.engine.chromium import DISABLED_FEATURES, disabled_features_of, merged_disable_features


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
