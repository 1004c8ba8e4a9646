"""The login page offers the WhatsApp Web surface an adapter reads (docs/SESSIONS.md)."""

from __future__ import annotations

import base64

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext

from app.sandbox import AsyncTestPhone, SandboxServer, parse_qr, read_qr
from tests.sandbox._helpers import WAIT_MS, current_qr, link, open_login, wait_state

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

MODULES = {
    "WAWebSocketModel": "Socket",
    "WAWebConnModel": "Conn",
    "WAWebCmd": "Cmd",
    "WAWebOfflineHandler": "OfflineMessageHandler",
    "WAWebAltDeviceLinkingApi": "startAltLinkingFlow",
    "WAWebCompanionRegClientUtils": "DEVICE_PLATFORM",
    "WAWebSignalStoreApi": "waSignalStore",
    "WAWebUserPrefsMultiDevice": "getADVSecretKey",
    "WAWebAdvSignatureApi": "getADVSecretKey",
    "WAWebUserPrefsInfoStore": "waNoiseInfo",
    "WABase64": "encodeB64",
    "WAWebMiscBrowserUtils": "info",
    "WAWebUserPrefsMeUser": "getMaybeMePnUser",
}


async def test_every_module_is_there_and_unknown_names_throw(
    context: BrowserContext, sandbox: SandboxServer
) -> None:
    page = await open_login(context, sandbox.url)
    found = await page.evaluate(
        """modules => Object.entries(modules).map(([name, member]) => {
            const mod = window.require(name);
            return [name, mod !== null && typeof mod === 'object' && member in mod];
        })""",
        MODULES,
    )
    assert dict(found) == dict.fromkeys(MODULES, True)
    error = await page.evaluate(
        "() => { try { window.require('WAWebNoSuchModule'); return null } "
        "catch (e) { return String(e.message) } }"
    )
    assert error and "WAWebNoSuchModule" in error
    surface = await page.evaluate(
        """() => {
            const {Socket} = window.require('WAWebSocketModel');
            const {Conn} = window.require('WAWebConnModel');
            const {Cmd} = window.require('WAWebCmd');
            const fns = o => ['on', 'off', 'once'].every(m => typeof o[m] === 'function');
            return {
                emitters: fns(Socket) && fns(Conn) && fns(Cmd),
                socket: ['logout', 'takeover', 'reconnect']
                    .every(m => typeof Socket[m] === 'function'),
                hasSynced: Socket.hasSynced,
                refreshQR: typeof Cmd.refreshQR === 'function',
                serialize: typeof Conn.serialize === 'function',
                progress: window.require('WAWebOfflineHandler')
                    .OfflineMessageHandler.getOfflineDeliveryProgress(),
                me: window.require('WAWebUserPrefsMeUser').getMaybeMePnUser(),
                lid: window.require('WAWebUserPrefsMeUser').getMaybeMeLidUser(),
                browser: window.require('WAWebMiscBrowserUtils').info().name,
            };
        }"""
    )
    assert surface == {
        "emitters": True,
        "socket": True,
        "hasSynced": False,
        "refreshQR": True,
        "serialize": True,
        "progress": 0,
        "me": None,
        "lid": None,
        "browser": "Chrome",
    }


async def test_events_are_backbone_like(context: BrowserContext, sandbox: SandboxServer) -> None:
    page = await open_login(context, sandbox.url)
    await current_qr(page)
    result = await page.evaluate(
        """() => {
            const {Cmd} = window.require('WAWebCmd');
            const seen = [];
            const on = (x) => seen.push('on:' + x);
            Cmd.on('ping', on);
            Cmd.once('ping', (x) => seen.push('once:' + x));
            Cmd.trigger('ping', 1);
            Cmd.trigger('ping', 2);
            Cmd.off('ping', on);
            Cmd.trigger('ping', 3);
            return seen;
        }"""
    )
    assert result == ["on:1", "once:1", "on:2"]
    # change:<attr> callbacks get (model, value), as Backbone's do.
    args = await page.evaluate(
        """() => new Promise(resolve => {
            const {Conn} = window.require('WAWebConnModel');
            Conn.once('change:ref', (model, value) => resolve({
                isConn: model === Conn, value, current: Conn.ref,
            }));
            window.require('WAWebCmd').Cmd.refreshQR();
        })"""
    )
    assert args["isConn"] is True
    assert args["value"] == args["current"]


async def test_qr_string_shape_and_canvas_decode_to_the_same_string(
    context: BrowserContext, sandbox: SandboxServer
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    qr = await current_qr(page)
    parts = parse_qr(qr)
    assert parts.ref.startswith("2@")
    for key in (parts.noise, parts.identity, parts.adv):
        assert len(base64.b64decode(key)) == 32
    # The modules give the same string the way whatsapp-web.js builds it.
    built = await page.evaluate(
        """async () => {
            const reg = {
                ...window.require('WAWebCompanionRegClientUtils'),
                ...window.require('WAWebAdvSignatureApi'),
                ...window.require('WAWebUserPrefsInfoStore'),
                ...window.require('WAWebSignalStoreApi'),
            };
            const b64 = window.require('WABase64');
            const info = await reg.waSignalStore.getRegistrationInfo();
            const noise = await reg.waNoiseInfo.get();
            const adv = window.require('WAWebUserPrefsMultiDevice').getADVSecretKey();
            return [window.require('WAWebConnModel').Conn.ref,
                    b64.encodeB64(noise.staticKeyPair.pubKey),
                    b64.encodeB64(info.identityKeyPair.pubKey),
                    adv, reg.DEVICE_PLATFORM].join(',');
        }"""
    )
    assert built == qr
    png = await page.locator("div[data-ref] canvas").screenshot()
    assert read_qr(png) == [qr]


async def test_modules_exist_before_debug_version_and_socket(
    context: BrowserContext, sandbox: SandboxServer
) -> None:
    await context.add_init_script(
        """
        window.__seen = [];
        document.addEventListener('DOMContentLoaded', () => {
            const booted = !!(window.Debug && window.Debug.VERSION);
            window.__seen.push(['dom', typeof window.require, booted]);
            const {Socket} = window.require('WAWebSocketModel');
            window.__seen.push(['state', Socket.state]);
            Socket.on('change:state', (m, s) => window.__seen.push(['change', s]));
        });
        """
    )
    page = await context.new_page()
    await page.goto(sandbox.url)
    await wait_state(page, "UNPAIRED")
    seen = await page.evaluate("window.__seen")
    assert seen[0] == ["dom", "function", False]
    assert seen[1] == ["state", "OPENING"]
    assert ["change", "UNPAIRED"] in seen
    version = await page.evaluate("window.Debug.VERSION")
    assert int(version.split(".")[1]) >= 3000


async def test_page_works_served_under_another_origin(
    browser: Browser, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    """A cached copy at the real site's address still logs in through this server.

    Chromium 142+ blocks a public origin's connections to loopback (Local
    Network Access) unless the context has the `local-network-access`
    permission or the browser runs with LocalNetworkAccessChecks disabled.
    """
    async with httpx.AsyncClient() as client:
        html = (await client.get(sandbox.url)).text
    context = await browser.new_context(permissions=["local-network-access"])
    try:
        context.set_default_timeout(WAIT_MS)
        await context.route(
            "https://web.whatsapp.com/**",
            lambda route: route.fulfill(status=200, content_type="text/html", body=html),
        )
        page = await context.new_page()
        await page.goto("https://web.whatsapp.com/")
        await page.wait_for_function("() => window.Debug && window.Debug.VERSION")
        await wait_state(page, "UNPAIRED")
        await link(page, phone)
        assert page.url == "https://web.whatsapp.com/"
    finally:
        await context.close()
