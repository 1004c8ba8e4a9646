"""Every answer of the test phone: 200, 404, 409, 410, 422 (and 503 in faults)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext

from app.sandbox import AsyncTestPhone, PhoneError, SandboxServer, parse_qr
from tests.sandbox._helpers import PHONE, current_qr, link, open_login, wait_state

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]


async def _status(sandbox: SandboxServer, path: str, body: Any, raw: bool = False) -> tuple:
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        if raw:
            response = await client.post(path, content=body)
        else:
            response = await client.post(path, json=body)
    return response.status_code, response.json()


async def test_used_qr_is_409_and_superseded_qr_is_410(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    stale = await current_qr(page)
    await page.evaluate("window.require('WAWebCmd').Cmd.refreshQR()")
    await page.wait_for_function(
        "old => window.require('WAWebConnModel').Conn.ref !== old", arg=parse_qr(stale).ref
    )
    with pytest.raises(PhoneError) as expired:
        await phone.scan(stale, PHONE)
    assert expired.value.status == 410 and "expired" in expired.value.message
    qr = await current_qr(page)
    await link(page, phone)
    with pytest.raises(PhoneError) as used:
        await phone.scan(qr, PHONE)
    assert used.value.status == 409 and "already used" in used.value.message
    scans = (await phone.stats())["scans"]
    assert (scans["linked"], scans["expired"], scans["used"]) == (1, 1, 1)


async def test_qr_of_a_closed_page_is_410(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    qr = await current_qr(page)
    await page.close()
    for _ in range(600):  # the server learns of the close asynchronously
        if not sandbox.world.pages:
            break
        await asyncio.sleep(0.05)
    with pytest.raises(PhoneError) as expired:
        await phone.scan(qr, PHONE)
    assert expired.value.status == 410


async def test_unknown_qr_is_404(sandbox: SandboxServer, phone: AsyncTestPhone) -> None:
    key = base64.b64encode(bytes(32)).decode()
    fake = f"2@{base64.b64encode(bytes(60)).decode()},{key},{key},{key},WEB"
    with pytest.raises(PhoneError) as unknown:
        await phone.scan(fake, PHONE)
    assert unknown.value.status == 404


async def test_qr_with_other_keys_than_shown_is_404(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    parts = parse_qr(await current_qr(page))
    other = base64.b64encode(bytes(range(32))).decode()
    forged = ",".join((parts.ref, parts.noise, other, parts.adv, parts.platform))
    with pytest.raises(PhoneError) as unknown:
        await phone.scan(forged, PHONE)
    assert unknown.value.status == 404
    await wait_state(page, "UNPAIRED")  # untouched


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"phone": PHONE}, "qr"),
        ({"qr": "2@abc", "phone": PHONE}, "5 comma-separated"),
        ({"qr": "x,y,z,w,v", "phone": PHONE}, "ref"),
        ({"qr": 42, "phone": PHONE}, "qr"),
        ({"qr": "ok", "phone": "12ab"}, "phone"),
        ({"qr": "ok"}, "phone"),
        ({"qr": "ok", "phone": PHONE, "extra": 1}, "unknown field"),
        (["not", "an", "object"], "JSON object"),
    ],
)
async def test_malformed_scan_is_422_with_a_message(
    sandbox: SandboxServer, body: Any, needle: str
) -> None:
    status, data = await _status(sandbox, "phone/scan", body)
    assert status == 422
    assert needle in data["error"]


async def test_not_json_is_422(sandbox: SandboxServer) -> None:
    for path in ("phone/scan", "phone/logout", "phone/pair", "sandbox/faults"):
        status, data = await _status(sandbox, path, b"{nope", raw=True)
        assert status == 422, path
        assert "not valid JSON" in data["error"]


async def test_logout_answers(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    with pytest.raises(PhoneError) as none:
        await phone.logout(PHONE)
    assert none.value.status == 404
    status, data = await _status(sandbox, "phone/logout", {"phone": PHONE, "device_id": "one"})
    assert status == 422 and "device_id" in data["error"]
    page = await open_login(context, sandbox.url)
    await link(page, phone)
    with pytest.raises(PhoneError) as wrong:
        await phone.logout(PHONE, device_id=7)
    assert wrong.value.status == 404
    assert (await phone.logout(PHONE, device_id=1))["unlinked"] == [1]


async def test_pairing_code_errors(sandbox: SandboxServer) -> None:
    status, _ = await _status(sandbox, "phone/pair", {"code": "ABCD1234", "phone": PHONE})
    assert status == 404
    status, data = await _status(sandbox, "phone/pair", {"code": "", "phone": PHONE})
    assert status == 422 and "code" in data["error"]


async def test_stats_shape(sandbox: SandboxServer, phone: AsyncTestPhone) -> None:
    stats = await phone.stats()
    assert set(stats) >= {
        "scans",
        "linked_devices",
        "live_connections",
        "pages",
        "conflicts_total",
        "max_live_per_account",
        "faults",
    }
    assert stats["conflicts_total"] == 0 and stats["max_live_per_account"] == 0
