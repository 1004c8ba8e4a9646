"""Flavours "dom" and "pixels": the engine's fallbacks still find the QR and the
login, with the modules (and in "pixels" the data-ref attribute) gone."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext

from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer, read_qr
from tests.sandbox._helpers import FAST, PHONE, current_qr

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

DOM = SandboxOptions(boot_delay=0.05, sync_delay=0.2, pair_delay=0.1, flavour="dom")
PIXELS = SandboxOptions(boot_delay=0.05, sync_delay=0.2, pair_delay=0.1, flavour="pixels")


async def _booted(context: BrowserContext, url: str):
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function("() => window.Debug && window.Debug.VERSION")
    return page


@pytest.mark.sandbox_options(DOM)
async def test_dom_flavour_has_no_modules_but_the_dom(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await _booted(context, sandbox.url)
    assert await page.evaluate("typeof window.require") == "undefined"
    qr = await current_qr(page)
    png = await page.locator("div[data-ref] canvas").screenshot()
    assert read_qr(png) == [qr]
    await phone.scan(qr, PHONE)
    await page.locator("#pane-side").wait_for()
    await page.locator("span[data-icon='search']").wait_for()


@pytest.mark.sandbox_options(PIXELS)
async def test_pixels_flavour_has_only_the_canvas(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await _booted(context, sandbox.url)
    assert await page.evaluate("typeof window.require") == "undefined"
    canvas = page.locator("canvas")
    await canvas.wait_for()
    assert await page.locator("[data-ref]").count() == 0
    first = read_qr(await canvas.screenshot())
    assert len(first) == 1
    # A new ref (here: after a dropped socket) is drawn on the canvas.
    await phone.set_faults(drop_sockets=True)
    await page.wait_for_function("() => !document.querySelector('canvas')")
    await canvas.wait_for()
    second = read_qr(await canvas.screenshot())
    assert len(second) == 1 and second != first
    await phone.scan(second[0], PHONE)
    await page.locator("#pane-side").wait_for()


async def test_full_flavour_is_the_default() -> None:
    assert FAST.flavour == "full"
