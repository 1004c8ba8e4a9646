"""The page survives the exact sequence whatsapp-web.js 1.34 runs up to READY
(inject(): ExposeAuthStore, the auth wait, the QR listener, the state and
hasSynced listeners, ClientInfo), driven through exposed bindings as the
engine's adapter does: no polling after the boot wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import BrowserContext

from app.sandbox import AsyncTestPhone, SandboxServer
from tests.sandbox._helpers import PHONE

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

EXPOSE_AUTH_STORE = """() => {
    window.AuthStore = {};
    window.AuthStore.AppState = window.require('WAWebSocketModel').Socket;
    window.AuthStore.Cmd = window.require('WAWebCmd').Cmd;
    window.AuthStore.Conn = window.require('WAWebConnModel').Conn;
    window.AuthStore.OfflineMessageHandler =
        window.require('WAWebOfflineHandler').OfflineMessageHandler;
    window.AuthStore.PairingCodeLinkUtils = window.require('WAWebAltDeviceLinkingApi');
    window.AuthStore.Base64Tools = window.require('WABase64');
    window.AuthStore.RegistrationUtils = {
        ...window.require('WAWebCompanionRegClientUtils'),
        ...window.require('WAWebAdvSignatureApi'),
        ...window.require('WAWebUserPrefsInfoStore'),
        ...window.require('WAWebSignalStoreApi'),
    };
}"""

NEEDS_AUTH = """async () => {
    let state = window.AuthStore.AppState.state;
    if (state === 'OPENING' || state === 'UNLAUNCHED' || state === 'PAIRING') {
        await new Promise(r => {
            window.AuthStore.AppState.on('change:state', function waitTillInit(_s, state) {
                if (state !== 'OPENING' && state !== 'UNLAUNCHED' && state !== 'PAIRING') {
                    window.AuthStore.AppState.off('change:state', waitTillInit);
                    r();
                }
            });
        });
    }
    state = window.AuthStore.AppState.state;
    return state == 'UNPAIRED' || state == 'UNPAIRED_IDLE';
}"""

QR_LISTENER = """async () => {
    const reg = window.AuthStore.RegistrationUtils;
    const registrationInfo = await reg.waSignalStore.getRegistrationInfo();
    const noiseKeyPair = await reg.waNoiseInfo.get();
    const staticKeyB64 = window.AuthStore.Base64Tools.encodeB64(noiseKeyPair.staticKeyPair.pubKey);
    const identityKeyB64 = window.AuthStore.Base64Tools.encodeB64(
        registrationInfo.identityKeyPair.pubKey);
    const advSecretKey = await window.require('WAWebUserPrefsMultiDevice').getADVSecretKey();
    const platform = reg.DEVICE_PLATFORM;
    const getQR = (ref) => ref + ',' + staticKeyB64 + ',' + identityKeyB64 + ','
        + advSecretKey + ',' + platform;
    window.onQRChangedEvent(getQR(window.AuthStore.Conn.ref));
    window.AuthStore.Conn.on('change:ref', (_, ref) => { window.onQRChangedEvent(getQR(ref)); });
}"""

STATE_LISTENERS = """() => {
    window.AuthStore.AppState.on('change:state', (_s, state) => {
        window.onAuthAppStateChangedEvent(state); });
    window.AuthStore.AppState.on('change:hasSynced', () => { window.onAppStateHasSyncedEvent(); });
    window.AuthStore.Cmd.on('offline_progress_update_from_bridge', () => {
        window.onOfflineProgressUpdateEvent(
            window.AuthStore.OfflineMessageHandler.getOfflineDeliveryProgress());
    });
    window.AuthStore.Cmd.on('logout', async () => { await window.onLogoutEvent(); });
}"""


async def test_whatsapp_web_js_inject_sequence(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await context.new_page()
    await page.goto(sandbox.url)
    await page.wait_for_function("() => window.Debug?.VERSION != undefined")
    await page.evaluate(EXPOSE_AUTH_STORE)
    assert await page.evaluate(NEEDS_AUTH) is True

    qrs: asyncio.Queue[str] = asyncio.Queue()
    states: list[str] = []
    synced = asyncio.Event()
    progress: list[Any] = []
    await page.expose_function("onQRChangedEvent", lambda qr: qrs.put_nowait(qr))
    await page.expose_function("onAuthAppStateChangedEvent", lambda s: states.append(s))
    await page.expose_function("onAppStateHasSyncedEvent", lambda: synced.set())
    await page.expose_function("onOfflineProgressUpdateEvent", lambda p: progress.append(p))
    await page.expose_function("onLogoutEvent", lambda: None)
    await page.evaluate(QR_LISTENER)
    await page.evaluate(STATE_LISTENERS)

    qr = await asyncio.wait_for(qrs.get(), 30)
    assert qr == await page.get_attribute("div[data-ref]", "data-ref")
    await phone.scan(qr, PHONE)
    await asyncio.wait_for(synced.wait(), 30)
    assert states == ["PAIRING", "CONNECTED"]
    assert progress[-1] == 100
    info = await page.evaluate(
        """() => ({...window.AuthStore.Conn.serialize(),
            wid: window.require('WAWebUserPrefsMeUser').getMaybeMePnUser()
                || window.require('WAWebUserPrefsMeUser').getMaybeMeLidUser()})"""
    )
    assert info["wid"]["_serialized"] == f"{PHONE}@c.us"
    assert info["pushname"] and info["platform"]
