"""Waiting for the login page to boot (`WhatsAppWebPage._until_booted`).

The wait polls with `evaluate` instead of Playwright's `wait_for_function`, so it must
keep what that gave: a reload while waiting is waited out, a page that never boots
ends in a clear `TimeoutError`, and a closed page is an error at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Route, async_playwright

from app.engine.browser.whatsapp_web import WhatsAppWebPage
from app.engine.chromium import CHROMIUM_FLAGS, find_chromium

pytestmark = pytest.mark.e2e

URL = "http://login.test/"
# Loads twice: the first document reloads itself after a moment, the second boots.
FIRST = "<html><body><script>setTimeout(() => location.reload(), 300)</script></body></html>"
BOOTED = "<html><body><div data-ref='ref'><canvas></canvas></div></body></html>"
NEVER = "<html><body><p>nothing here boots</p></body></html>"


@contextlib.asynccontextmanager
async def _page(*documents: str) -> AsyncIterator[tuple[WhatsAppWebPage, list[str]]]:
    served: list[str] = []

    async def serve(route: Route) -> None:
        body = documents[min(len(served), len(documents) - 1)]
        served.append(body)
        await route.fulfill(status=200, content_type="text/html", body=body)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=find_chromium().session_path, args=list(CHROMIUM_FLAGS)
        )
        try:
            page: Page = await (await browser.new_context()).new_page()
            await page.route(URL + "**", serve)
            await page.goto(URL)
            yield (
                WhatsAppWebPage(page, url=URL, time_scale=1.0, clock=lambda: datetime.now(UTC)),
                served,
            )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 30)


async def test_a_reload_while_waiting_is_waited_out() -> None:
    async with _page(FIRST, BOOTED) as (login, served):
        await login._until_booted(30)
        assert served == [FIRST, BOOTED]
        assert await login.page.locator("div[data-ref]").count() == 1


async def test_a_page_that_never_boots_is_a_clear_timeout() -> None:
    async with _page(NEVER) as (login, _served):
        with pytest.raises(TimeoutError, match="did not boot within 1 s"):
            await login._until_booted(1)


async def test_a_page_closed_while_waiting_is_an_error_at_once() -> None:
    async with _page(NEVER) as (login, _served):
        waiting = asyncio.create_task(login._until_booted(60))
        await asyncio.sleep(0.3)
        await login.page.close()
        with pytest.raises(PlaywrightError):
            await asyncio.wait_for(waiting, 10)
