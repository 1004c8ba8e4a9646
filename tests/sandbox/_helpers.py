"""Helpers for the simulator tests: open a login page, read its QR, link it."""

from __future__ import annotations

from typing import Any

from playwright.async_api import BrowserContext, Page

from app.sandbox import AsyncTestPhone, SandboxOptions

# Quick but not racy: refs live 60 s as on the real site, boot and sync are short.
FAST = SandboxOptions(boot_delay=0.05, sync_delay=0.2, pair_delay=0.1)
PHONE = "6281234567890"
WAIT_MS = 30_000  # generous: the box is shared and slow at times


async def open_login(context: BrowserContext, url: str) -> Page:
    """A page at the simulator, booted (window.Debug.VERSION set)."""
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function("() => window.Debug && window.Debug.VERSION")
    return page


async def current_qr(page: Page) -> str:
    """The QR string the page shows now (div[data-ref] with a canvas in it)."""
    div = page.locator("div[data-ref]:has(canvas)")
    await div.wait_for()
    value = await div.get_attribute("data-ref")
    assert value
    return value


async def wait_state(page: Page, state: str) -> None:
    await page.wait_for_function(
        "s => window.require('WAWebSocketModel').Socket.state === s", arg=state
    )


async def wait_logged_in(page: Page) -> None:
    """CONNECTED and synced, as the adapter defines logged in."""
    await page.wait_for_function(
        """() => {
            const s = window.require('WAWebSocketModel').Socket;
            return s.state === 'CONNECTED' && s.hasSynced === true;
        }"""
    )
    await page.locator("#pane-side").wait_for()


async def link(page: Page, phone: AsyncTestPhone, number: str = PHONE) -> dict[str, Any]:
    """Scan the page's current QR with the test phone and wait until logged in."""
    result = await phone.scan(await current_qr(page), number)
    await wait_logged_in(page)
    return result
