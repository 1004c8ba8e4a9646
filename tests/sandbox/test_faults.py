"""POST/DELETE /sandbox/faults: boot delay, dropped sockets, rejected scans,
hung pages, flavour; and clear 422s for bad knobs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext

from app.sandbox import AsyncTestPhone, PhoneError, SandboxServer
from tests.sandbox._helpers import (
    PHONE,
    current_qr,
    link,
    open_login,
    wait_logged_in,
    wait_state,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]


async def test_boot_delay_applies_to_pages_loaded_after(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    result = await phone.set_faults(boot_delay=1.5)
    assert result["faults"]["boot_delay"] == 1.5
    page = await context.new_page()
    await page.goto(sandbox.url)
    config = await page.evaluate(
        "JSON.parse(document.getElementById('sandbox-config').textContent)"
    )
    assert config["bootDelay"] == 1.5
    await page.wait_for_function("() => window.Debug && window.Debug.VERSION")
    assert (await phone.reset_faults())["faults"]["boot_delay"] == sandbox.options.boot_delay


async def test_reject_scans_until_reset(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    qr = await current_qr(page)
    await phone.set_faults(reject_scans=True)
    with pytest.raises(PhoneError) as rejected:
        await phone.scan(qr, PHONE)
    assert rejected.value.status == 503
    await phone.reset_faults()
    await phone.scan(qr, PHONE)
    await wait_logged_in(page)
    assert (await phone.stats())["scans"]["rejected"] == 1


async def test_dropped_sockets_reconnect_without_conflict(
    context: BrowserContext,
    other_context: BrowserContext,
    sandbox: SandboxServer,
    phone: AsyncTestPhone,
) -> None:
    linked = await open_login(context, sandbox.url)
    await link(linked, phone)
    # Another context: pages of one context share IndexedDB, hence the account.
    waiting = await open_login(other_context, sandbox.url)
    old_qr = await current_qr(waiting)
    await linked.evaluate(
        """() => { window.__states = [];
            window.require('WAWebSocketModel').Socket.on('change:state',
                (m, s) => window.__states.push(s)); }"""
    )
    result = await phone.set_faults(drop_sockets=True)
    assert result["dropped"] == 2
    await linked.wait_for_function("() => window.__states.includes('CONNECTED')")
    assert await linked.evaluate("window.__states") == ["OPENING", "CONNECTED"]
    await waiting.wait_for_function(
        "old => document.querySelector('div[data-ref]')?.getAttribute('data-ref') !== old"
        " && !!document.querySelector('div[data-ref] canvas')",
        arg=old_qr,
    )
    await wait_state(waiting, "UNPAIRED")
    stats = await phone.stats()
    assert stats["conflicts_total"] == 0
    assert stats["max_live_per_account"] == 1
    assert stats["pages"]["opened_total"] == 4


async def test_drop_sockets_of_one_phone_only(
    context: BrowserContext,
    other_context: BrowserContext,
    sandbox: SandboxServer,
    phone: AsyncTestPhone,
) -> None:
    page = await open_login(context, sandbox.url)
    await link(page, phone)
    await current_qr(await open_login(other_context, sandbox.url))
    result = await phone.set_faults(drop_sockets=PHONE)
    assert result["dropped"] == 1


async def test_hung_page_stops_answering_and_can_be_closed(
    browser: Any, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    context = await browser.new_context()
    try:
        page = await open_login(context, sandbox.url)
        await link(page, phone)
        result = await phone.set_faults(hang_pages=True)
        assert result["hung"] == 1
        # The page hangs once it has handled the server's message, which may be just
        # after the fault's answer: it answers at most until then, never after.
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            for _ in range(20):
                await asyncio.wait_for(page.evaluate("1 + 1"), 3)
        assert (await phone.stats())["pages"]["hung"] == 1
    finally:
        await asyncio.wait_for(context.close(), 60)


async def test_flavour_fault_changes_new_pages(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    await phone.set_faults(flavour="dom")
    page = await context.new_page()
    await page.goto(sandbox.url)
    await page.wait_for_function("() => window.Debug && window.Debug.VERSION")
    assert await page.evaluate("typeof window.require") == "undefined"
    await current_qr(page)
    await phone.reset_faults()
    assert (await phone.stats())["faults"]["flavour"] == "full"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "at least one"),
        ({"boot_delay": -1}, "boot_delay"),
        ({"boot_delay": "slow"}, "boot_delay"),
        ({"flavour": "html"}, "flavour"),
        ({"reject_scans": "yes"}, "reject_scans"),
        ({"drop_sockets": 3}, "drop_sockets"),
        ({"hang_pages": "not-a-phone"}, "phone"),
        ({"explode": True}, "unknown field"),
        ({"block_state": "BANNED"}, "block_state"),
        ({"block_phone": 12}, "block_phone"),
        ({"passkey": "abc"}, "phone"),
        ({"language": "xx"}, "language"),
    ],
)
async def test_bad_fault_is_422(sandbox: SandboxServer, body: Any, needle: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        response = await client.post("sandbox/faults", json=body)
    assert response.status_code == 422
    assert needle in response.json()["error"]
    assert sandbox.world.faults.as_dict() == {
        "boot_delay": sandbox.options.boot_delay,
        "flavour": sandbox.options.flavour,
        "language": "en",
        "reject_scans": False,
        "passkey": False,
        "block_state": None,
        "block_phone": None,
    }
