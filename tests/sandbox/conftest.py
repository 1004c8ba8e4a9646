"""Shared fixtures for the simulator tests: one headless Chromium per test
module (always closed), a fresh browser context per test, and a fresh
simulator per test on the module's event loop.

Test modules that use them mark themselves
`pytestmark = pytest.mark.asyncio(loop_scope="module")` so the module-scoped
browser and the tests share one loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright

from app.engine.chromium import CHROMIUM_FLAGS, find_chromium
from app.sandbox import AsyncTestPhone, SandboxServer
from tests.sandbox._helpers import FAST, WAIT_MS


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "sandbox_options(options): SandboxOptions for the `sandbox` fixture"
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=find_chromium().path, args=list(CHROMIUM_FLAGS), headless=True
        )
        try:
            yield launched
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(launched.close(), 30)


@contextlib.asynccontextmanager
async def _fresh_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context()
    ctx.set_default_timeout(WAIT_MS)
    try:
        yield ctx
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ctx.close(), 30)


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh context: its pages share one IndexedDB, i.e. one WhatsApp account."""
    async with _fresh_context(browser) as ctx:
        yield ctx


@pytest_asyncio.fixture(loop_scope="module")
async def other_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A second, independent context (another account)."""
    async with _fresh_context(browser) as ctx:
        yield ctx


@pytest_asyncio.fixture(loop_scope="module")
async def sandbox(request: Any) -> AsyncIterator[SandboxServer]:
    """A simulator; a test may pass its options with `@pytest.mark.sandbox_options(...)`."""
    marker = request.node.get_closest_marker("sandbox_options")
    options = marker.args[0] if marker else FAST
    async with SandboxServer(options) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="module")
async def phone(sandbox: SandboxServer) -> AsyncIterator[AsyncTestPhone]:
    async with AsyncTestPhone(sandbox.url) as client:
        yield client
