"""Credentials variables of the instance never reach the Playwright driver or
Chromium: read from /proc/<pid>/environ of every process the launcher started.
The wrapped driver runs with the engine's Node.js flags."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import psutil
import pytest

from app.config import Settings
from app.engine.browser.launch import DRIVER_NODE_FLAGS, ChromiumLauncher

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

PLANTED = {
    "AWS_ACCESS_KEY_ID": "AKIAPLANTED",
    "AWS_SECRET_ACCESS_KEY": "planted-aws-secret",
    "AWS_SESSION_TOKEN": "planted-aws-token",
    "PGPASSWORD": "planted-pg-password",
    "CREDENTIALS_DIRECTORY": "/run/credentials/planted",
    "SOME_API_TOKEN": "planted-token",
}
MARKER = ("PD_ENV_PROBE", "harmless")  # proves the environ read is the child's


def _environs() -> dict[int, tuple[list[str], dict[str, str]]]:
    """argv and environment of every descendant of this process."""
    out: dict[int, tuple[list[str], dict[str, str]]] = {}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error, OSError):
            raw = Path(f"/proc/{proc.pid}/environ").read_bytes()
            pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
            env = {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}
            out[proc.pid] = (proc.cmdline(), env)
    return out


@pytest.mark.parametrize("tie", [True, False], ids=["wrapped", "unwrapped"])
async def test_no_credentials_variable_reaches_the_driver_or_chromium(
    monkeypatch: pytest.MonkeyPatch, tie: bool
) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(*MARKER)
    launcher = ChromiumLauncher(Settings(), tie_to_parent=tie)
    await launcher.start()
    try:
        browser = await launcher.launch()
        try:
            page = await browser.new_page()
            await page.goto("about:blank")
            children = await asyncio.to_thread(_environs)
        finally:
            await browser.close()
    finally:
        await launcher.aclose()
    # The driver and the browser process show their environment; Chromium's zygote
    # and its children reuse that memory for their process titles, so for them only
    # the absence of every planted value is checked.
    ours = {pid: v for pid, v in children.items() if v[1].get(MARKER[0]) == MARKER[1]}
    browser_pids = [pid for pid, (argv, _) in ours.items() if "--remote-debugging-pipe" in argv]
    driver = [pid for pid, (argv, _) in ours.items() if any("playwright" in a for a in argv)]
    assert browser_pids, "the browser process's environment was read"
    assert driver or not tie, "the driver's environment was read"
    for pid in browser_pids + (driver if tie else []):
        argv, env = ours[pid]
        leaked = sorted(set(PLANTED) & set(env))
        assert not leaked, f"{argv[:1]} (pid {pid}) got {leaked}"
    if tie:  # the wrapped driver also gets its V8 flags on node's command line
        nodes = [argv for argv, _ in ours.values() if "run-driver" in argv]
        assert nodes, "the driver's command line was read"
        for argv in nodes:
            assert set(DRIVER_NODE_FLAGS) <= set(argv[: argv.index("run-driver")]), argv
    assert len(children) > 2  # zygotes and renderers too
    for pid, (argv, env) in children.items():
        if tie or pid not in driver:
            text = "\0".join(f"{k}={v}" for k, v in env.items())
            assert not [v for v in PLANTED.values() if v in text], f"{argv[:2]} (pid {pid})"
