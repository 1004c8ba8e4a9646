"""The engine's V8 flags reach every renderer, and a linked page at the sandbox's
real weight stays connected and keeps working under them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import psutil
import pytest

from app.config import Settings
from app.engine.browser.launch import ENGINE_FLAGS, ChromiumLauncher
from app.sandbox import AsyncTestPhone, SandboxServer
from tests.sandbox._helpers import FAST, link, open_login

pytestmark = pytest.mark.e2e


def _renderer_argvs() -> list[list[str]]:
    out = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            argv = proc.cmdline()
            if "--type=renderer" in argv:
                out.append(argv)
    return out


async def test_renderers_get_the_engine_flags_and_a_real_weight_page_stays_connected() -> None:
    options = dataclasses.replace(FAST, page_weight="real")
    launcher = ChromiumLauncher(Settings(), tie_to_parent=False)
    await launcher.start()
    try:
        async with SandboxServer(options) as sandbox, AsyncTestPhone(sandbox.url) as phone:
            browser = await launcher.launch()
            try:
                context = await browser.new_context()
                page = await open_login(context, sandbox.url)
                await link(page, phone)
                await page.wait_for_function("() => window.__sandboxWeight.stats().rows > 0")
                renderers = await asyncio.to_thread(_renderer_argvs)
                assert renderers and all(set(ENGINE_FLAGS) <= set(argv) for argv in renderers), (
                    "every renderer runs with the engine's V8 flags"
                )
                # Still linked and answering after the weight was loaded.
                state = await page.evaluate(
                    "() => { const s = window.require('WAWebSocketModel').Socket;"
                    " return [s.state, s.hasSynced]; }"
                )
                assert state == ["CONNECTED", True]
            finally:
                await browser.close()
    finally:
        await launcher.aclose()
