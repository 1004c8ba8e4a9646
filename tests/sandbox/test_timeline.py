"""The ref timeline: 60 s then 20 s per ref, 6 per batch, then UNPAIRED_IDLE,
all scaled by time_scale; reload by button or Cmd.refreshQR()."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext

from app.sandbox import SandboxOptions, SandboxServer, parse_qr, read_qr
from tests.sandbox._helpers import current_qr, open_login, wait_state

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

SCALED = SandboxOptions(time_scale=0.05, boot_delay=0.05)

RECORD_REFS = """() => {
    window.__refs = [];
    window.__states = [];
    const {Conn} = window.require('WAWebConnModel');
    const {Socket} = window.require('WAWebSocketModel');
    if (Conn.ref) window.__refs.push(Conn.ref);
    Conn.on('change:ref', (model, ref) => window.__refs.push(ref));
    Socket.on('change:state', (model, state) => window.__states.push(state));
}"""


@pytest.mark.sandbox_options(SCALED)
async def test_six_refs_then_idle_and_reload(
    context: BrowserContext, sandbox: SandboxServer
) -> None:
    page = await open_login(context, sandbox.url)
    await wait_state(page, "UNPAIRED")
    await page.evaluate(RECORD_REFS)
    await wait_state(page, "UNPAIRED_IDLE")
    refs = await page.evaluate("window.__refs")
    assert len(refs) == 6 and len(set(refs)) == 6
    assert await page.evaluate("window.__states") == ["UNPAIRED_IDLE"]
    lifetimes = [sandbox.world.refs[ref].lifetime for ref in refs]
    assert lifetimes == pytest.approx([3.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    # Idle: the same div, now with the reload button and no QR canvas.
    button = page.locator("div[data-ref] > span > button")
    assert await button.inner_text() == "Click to reload QR code"
    assert await page.locator("div[data-ref] canvas").count() == 0
    await button.click()
    await wait_state(page, "UNPAIRED")
    qr = await current_qr(page)
    assert parse_qr(qr).ref not in refs
    assert await page.locator("div[data-ref] > span > button").count() == 0
    stats = sandbox.world.counters
    assert stats.batches_exhausted == 1 and stats.refs_issued == 7


@pytest.mark.sandbox_options(SCALED)
async def test_every_new_ref_is_redrawn_and_cmd_refresh_restarts_the_batch(
    context: BrowserContext, sandbox: SandboxServer
) -> None:
    page = await open_login(context, sandbox.url)
    first = await current_qr(page)
    await page.wait_for_function(
        "old => document.querySelector('div[data-ref]').getAttribute('data-ref') !== old",
        arg=first,
    )
    second = await current_qr(page)
    assert parse_qr(second).identity == parse_qr(first).identity  # same page keys
    png = await page.locator("div[data-ref] canvas").screenshot()
    # The canvas may have moved on again meanwhile: it shows one of the refs the page got.
    assert read_qr(png)[0].split(",")[0] in sandbox.world.refs
    await wait_state(page, "UNPAIRED_IDLE")
    await page.evaluate("window.require('WAWebCmd').Cmd.refreshQR()")
    await wait_state(page, "UNPAIRED")
    assert sandbox.world.counters.refs_issued >= 7
