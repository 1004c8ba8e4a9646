"""A linked headless page is not drawn; any other state, and a window, are.

The adapter puts `display: none` on the page's root while the login is linked
(app/engine/browser/js/whatsapp_web.js, `drawLinked`), so the renderer drops the
layout and raster a headless page never shows. The session must carry on as
before (pings, a snapshot), and a page that leaves the linked state (here: the
account is blocked) is drawn again, in every strategy of the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import BrowserContext, async_playwright

from app.engine.browser.signals import Blocked, Qr, Ready
from app.engine.browser.whatsapp_web import WhatsAppWebPage
from app.engine.chromium import CHROMIUM_FLAGS, find_chromium
from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer
from tests.engine.session_support import Recorder

pytestmark = pytest.mark.e2e

PHONE = "6281234567890"
ROOT_DISPLAY = "() => getComputedStyle(document.documentElement).display"
WAIT_S = 60.0


@contextlib.asynccontextmanager
async def _login_page(flavour: str) -> AsyncIterator[tuple[SandboxServer, BrowserContext]]:
    options = SandboxOptions(boot_delay=0.05, sync_delay=0.2, pair_delay=0.1, flavour=flavour)
    async with SandboxServer(options) as sandbox, async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=find_chromium().session_path, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield sandbox, await browser.new_context()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 30)


async def _linked(
    sandbox: SandboxServer, context: BrowserContext, *, draw_linked: bool
) -> tuple[WhatsAppWebPage, Recorder]:
    signals = Recorder()  # collects page signals as it does engine events
    page = WhatsAppWebPage(
        await context.new_page(),
        url=sandbox.url,
        time_scale=1.0,
        clock=lambda: datetime.now(UTC),
        sink=signals,
        draw_linked=draw_linked,
    )
    await page.install(timeout=WAIT_S)
    qr = await signals.wait_for(Qr)
    assert isinstance(qr, Qr)
    assert await page.page.evaluate(ROOT_DISPLAY) == "block", "a QR is drawn"
    async with AsyncTestPhone(sandbox.url) as phone:
        await phone.scan(qr.qr, PHONE)
    await signals.wait_for(Ready)
    return page, signals


@pytest.mark.parametrize("flavour", ["full", "dom", "pixels"])
async def test_a_linked_page_is_not_drawn_and_is_drawn_again_when_it_leaves(
    flavour: str,
) -> None:
    async with _login_page(flavour) as (sandbox, context):
        page, signals = await _linked(sandbox, context, draw_linked=False)
        # The adapter hides the root in the same task that says "ready".
        assert await page.page.evaluate(ROOT_DISPLAY) == "none"
        # Not drawn, still alive: the page answers pings and its login can be saved.
        latency, _heap = await page.ping(timeout=WAIT_S)
        assert latency > 0
        state = await context.storage_state(indexed_db=True)
        assert state["origins"], "the login is still there to save"
        async with AsyncTestPhone(sandbox.url) as phone:
            await phone.set_faults(block_state="TOS_BLOCK", block_phone=PHONE)
        await signals.wait_for(Blocked)
        assert await page.page.evaluate(ROOT_DISPLAY) == "block"


async def test_a_page_in_the_operators_window_stays_drawn_when_linked() -> None:
    async with _login_page("full") as (sandbox, context):
        page, _signals = await _linked(sandbox, context, draw_linked=True)
        assert await page.page.evaluate(ROOT_DISPLAY) == "block"
