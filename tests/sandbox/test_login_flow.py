"""Scan -> connected, restore without QR, remote and local logout, conflict."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from app.sandbox import AsyncTestPhone, SandboxServer, parse_qr
from tests.sandbox._helpers import (
    PHONE,
    WAIT_MS,
    current_qr,
    link,
    open_login,
    wait_logged_in,
    wait_state,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

RECORD_STATES = """() => {
    window.__states = [];
    const {Socket} = window.require('WAWebSocketModel');
    Socket.on('change:state', (m, s) => window.__states.push(s));
    Socket.on('change:hasSynced', (m, v) => window.__states.push('synced:' + v));
}"""


async def test_scan_links_and_the_page_reports_the_phone(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    qr = await current_qr(page)
    await page.evaluate(RECORD_STATES)
    result = await phone.scan(qr, "+" + PHONE)
    assert result["linked"] is True and result["device_id"] == 1
    await wait_logged_in(page)
    states = await page.evaluate("window.__states")
    assert states == ["PAIRING", "CONNECTED", "synced:true"]
    me = await page.evaluate("window.require('WAWebUserPrefsMeUser').getMaybeMePnUser()")
    assert me == {"user": PHONE, "server": "c.us", "_serialized": f"{PHONE}@c.us"}
    conn = await page.evaluate("window.require('WAWebConnModel').Conn.serialize()")
    assert conn["wid"]["_serialized"] == f"{PHONE}@c.us"
    assert await page.evaluate("String(window.require('WAWebConnModel').Conn.wid)") == (
        f"{PHONE}@c.us"
    )
    assert await page.locator("span[data-icon='search']").count() == 1
    assert await page.get_attribute("#pane-side", "aria-label") == "Chat list"
    assert await page.locator("div[data-ref]").count() == 0
    stats = await phone.stats()
    assert stats["live_connections"] == {f"{PHONE}:1": 1}
    assert stats["scans"]["linked"] == 1
    assert stats["conflicts_total"] == 0


async def _linked_state(context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone):
    page = await open_login(context, sandbox.url)
    await link(page, phone)
    return page, await context.storage_state(indexed_db=True)


async def test_restore_from_saved_storage_skips_the_qr(
    browser: Browser, context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    _, state = await _linked_state(context, sandbox, phone)
    await context.close()
    refs_before = sandbox.world.counters.refs_issued
    restored = await browser.new_context(storage_state=state)
    try:
        restored.set_default_timeout(WAIT_MS)
        page = await restored.new_page()
        await page.goto(sandbox.url)
        await page.wait_for_function("() => window.Debug && window.Debug.VERSION")
        await page.evaluate(RECORD_STATES)
        await wait_logged_in(page)
        assert sandbox.world.counters.refs_issued == refs_before
        assert sandbox.world.counters.restores == 1
        assert "UNPAIRED" not in await page.evaluate("window.__states")
        me = await page.evaluate("window.require('WAWebUserPrefsMeUser').getMaybeMePnUser()")
        assert me["user"] == PHONE
        assert (await phone.stats())["conflicts_total"] == 0
    finally:
        await restored.close()


async def _watch_logout(page: Page) -> list[str]:
    seen: list[str] = []
    await page.expose_function("onSandboxLogout", lambda *args: seen.append("logout"))
    await page.evaluate(
        "window.require('WAWebCmd').Cmd.on('logout', () => window.onSandboxLogout())"
    )
    return seen


async def test_remote_logout_clears_storage_and_shows_a_fresh_qr(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    old_qr = await current_qr(page)
    await link(page, phone)
    seen = await _watch_logout(page)
    assert (await phone.logout(PHONE))["unlinked"] == [1]
    await page.wait_for_url("**/?post_logout=1")
    new_qr = await current_qr(page)
    assert seen == ["logout"]
    assert parse_qr(new_qr).identity != parse_qr(old_qr).identity  # keys were wiped
    assert await page.evaluate("localStorage.length") == 0
    stats = await phone.stats()
    assert stats["linked_devices"] == [] and stats["logouts"] == 1


async def test_socket_logout_unlinks_the_device(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    await link(page, phone)
    seen = await _watch_logout(page)
    await page.evaluate("window.require('WAWebSocketModel').Socket.logout()")
    await page.wait_for_url("**/?post_logout=1")
    await current_qr(page)
    assert seen == ["logout"]
    assert (await phone.stats())["linked_devices"] == []


async def test_second_live_page_puts_the_older_into_conflict(
    browser: Browser, context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    first, state = await _linked_state(context, sandbox, phone)
    second_context = await browser.new_context(storage_state=state)
    try:
        second_context.set_default_timeout(WAIT_MS)
        second = await second_context.new_page()
        await second.goto(sandbox.url)
        await wait_logged_in(second)
        await wait_state(first, "CONFLICT")
        stats = await phone.stats()
        assert stats["conflicts_total"] == 1
        assert stats["max_live_per_account"] == 2
        assert stats["live_connections"] == {f"{PHONE}:1": 1}
        assert await first.locator("#pane-side").count() == 0
        # Take-over (an operator's explicit action) turns the tables.
        await first.evaluate("window.require('WAWebSocketModel').Socket.takeover()")
        await wait_state(first, "CONNECTED")
        await wait_state(second, "CONFLICT")
        assert (await phone.stats())["conflicts_total"] == 2
    finally:
        await second_context.close()


async def test_pairing_code_links_without_a_scan(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    code = await page.evaluate(
        """async (number) => {
            const api = window.require('WAWebAltDeviceLinkingApi');
            api.setPairingType('ALT_DEVICE_LINKING');
            await api.initializeAltDeviceLinking();
            return api.startAltLinkingFlow(number, false);
        }""",
        PHONE,
    )
    assert len(code) == 8
    result = await phone.pair(code, PHONE)
    assert result["linked"] is True
    await wait_logged_in(page)


async def test_socket_reconnect_is_not_a_conflict(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    await link(page, phone)
    await page.evaluate(RECORD_STATES)
    for _ in range(3):
        await page.evaluate("window.require('WAWebSocketModel').Socket.reconnect()")
        await wait_state(page, "CONNECTED")
    assert await page.evaluate("window.__states") == ["OPENING", "CONNECTED"] * 3
    stats = await phone.stats()
    assert stats["conflicts_total"] == 0 and stats["max_live_per_account"] == 1
