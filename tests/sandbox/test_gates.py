"""The simulator's gates: link with phone number (the code screen, renewal, expiry,
back to QR), the passkey step (navigator.credentials.get, answered by a virtual
authenticator holding the phone's passkey), and the terminal socket states."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import BrowserContext, Page

from app.sandbox import AsyncTestPhone, PhoneError, SandboxOptions, SandboxServer
from tests.engine.gate_support import add_phone_passkey
from tests.sandbox._helpers import FAST, PHONE, current_qr, open_login, wait_logged_in, wait_state

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

ASK_CODE = """async (number) => {
    const api = window.require('WAWebAltDeviceLinkingApi');
    api.setPairingType('ALT_DEVICE_LINKING');
    await api.initializeAltDeviceLinking();
    return api.startAltLinkingFlow(number, true);
}"""
SHORT_CODES = SandboxOptions(boot_delay=0.05, sync_delay=0.2, pair_delay=0.1, time_scale=0.01)


async def _screen(page: Page) -> str | None:
    return await page.get_attribute("#app", "data-screen")


async def test_the_code_replaces_the_qr_and_is_typed_on_the_phone(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    assert await _screen(page) == "QR"
    code = await page.evaluate(ASK_CODE, PHONE)
    assert re.fullmatch(r"[1-9A-HJ-NP-TV-Z]{8}", code), "Crockford base32 without 0, I, O, U"
    shown = page.locator("div[data-link-code]")
    await shown.get_by_text(f"{code[:4]}-{code[4:]}").wait_for()
    assert await _screen(page) == "CODE"
    assert await page.locator("div[data-ref]").count() == 0, "no QR while the code shows"
    # Asking again gives a fresh code and voids the old one.
    again = await page.evaluate(ASK_CODE, PHONE)
    assert again != code
    with pytest.raises(PhoneError) as old:
        await phone.pair(code, PHONE)
    assert old.value.status == 404
    assert (await phone.pair(again, PHONE))["linked"] is True
    await wait_logged_in(page)
    stats = await phone.stats()
    assert stats["pairing_codes"]["issued"] == 2 and stats["pairing_codes"]["linked"] == 1


async def test_a_code_needs_alt_linking_first(
    context: BrowserContext, sandbox: SandboxServer
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    with pytest.raises(Exception, match="initializeAltDeviceLinking"):
        await page.evaluate(
            "n => window.require('WAWebAltDeviceLinkingApi').startAltLinkingFlow(n, true)", PHONE
        )


async def test_back_to_qr_voids_the_code(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    code = await page.evaluate(ASK_CODE, PHONE)
    await page.evaluate(
        """async () => {
            await window.require('WAWebAltDeviceLinkingApi').initializeQRLinking();
            window.require('WAWebLaunchSocketUtils').refreshQR();
        }"""
    )
    qr = await current_qr(page)
    assert await _screen(page) == "QR"
    with pytest.raises(PhoneError) as void:
        await phone.pair(code, PHONE)
    assert void.value.status == 404
    await phone.scan(qr, PHONE)
    await wait_logged_in(page)


@pytest.mark.sandbox_options(SHORT_CODES)
async def test_an_expired_code_is_410(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    code = await page.evaluate(ASK_CODE, PHONE)  # valid 180 s x 0.01 = 1.8 s
    await page.wait_for_timeout(2500)
    with pytest.raises(PhoneError) as late:
        await phone.pair(code, PHONE)
    assert late.value.status == 410


async def test_the_passkey_step_needs_the_phones_passkey(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    await phone.set_faults(passkey=PHONE)
    page = await context.new_page()
    await add_phone_passkey(context, page, await phone.passkey(PHONE), "localhost")
    await page.goto(sandbox.url.replace("127.0.0.1", "localhost"))
    await wait_state(page, "UNPAIRED")
    await page.evaluate(
        """() => {
            window.__asked = [];
            const original = navigator.credentials.get.bind(navigator.credentials);
            navigator.credentials.get = (o) => {
                window.__asked.push(o.publicKey.rpId || location.hostname);
                return original(o);
            };
        }"""
    )
    result = await phone.scan(await current_qr(page), PHONE)
    assert result == {
        "linked": False,
        "passkey_required": True,
        "phone": PHONE,
        "message": "continue on WhatsApp Web: confirm with the passkey on that page",
    }
    await wait_logged_in(page)
    assert await page.evaluate("window.__asked") == ["localhost"]
    stats = await phone.stats()
    assert stats["passkeys"] == {"asked": 1, "confirmed": 1, "refused": 0, "waiting": 0}


async def test_a_page_without_the_passkey_waits_on_the_passkey_screen(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    await phone.set_faults(passkey=True)
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    await phone.scan(await current_qr(page), PHONE)
    await page.locator("#passkey").wait_for()
    assert await _screen(page) == "PASSKEY"
    assert await page.evaluate("window.require('WAWebSocketModel').Socket.state") == "PAIRING"
    stats = await phone.stats()
    assert stats["linked_devices"] == [] and stats["passkeys"]["waiting"] == 1
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        assert (await client.get("phone/passkey", params={"phone": "12"})).status_code == 422


@pytest.mark.parametrize(
    "state", ["PROXYBLOCK", "TOS_BLOCK", "SMB_TOS_BLOCK", "DEPRECATED_VERSION"]
)
async def test_blocked_pages_stay_blocked(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone, state: str
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    result = await phone.set_faults(block_state=state)
    assert result["blocked"] == 1
    await wait_state(page, state)
    assert await _screen(page) == state
    await phone.set_faults(drop_sockets=True)
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.require('WAWebSocketModel').Socket.state") == state
    later = await open_login(context, sandbox.url)
    await wait_state(later, state)  # new pages meet the block at once


async def test_a_block_of_one_phone_spares_the_others(
    context: BrowserContext,
    other_context: BrowserContext,
    sandbox: SandboxServer,
    phone: AsyncTestPhone,
) -> None:
    mine = await open_login(context, sandbox.url)
    theirs = await open_login(other_context, sandbox.url)
    await phone.scan(await current_qr(mine), PHONE)
    await phone.scan(await current_qr(theirs), "6289999999999")
    await wait_logged_in(mine)
    await wait_logged_in(theirs)
    await phone.set_faults(block_state="TOS_BLOCK", block_phone=PHONE)
    await wait_state(mine, "TOS_BLOCK")
    assert await theirs.evaluate("window.require('WAWebSocketModel').Socket.state") == "CONNECTED"
    assert FAST.flavour == "full"
