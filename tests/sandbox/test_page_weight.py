"""Page weight: at "real" a linked page keeps a heap, a DOM and stored messages
of a live client (and its snapshot carries them); at "light" it keeps none."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from playwright.async_api import BrowserContext

from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer, SandboxWorld
from app.sandbox._options import REAL_WEIGHT
from tests.sandbox._helpers import FAST, WAIT_MS, link, open_login

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

REAL = dataclasses.replace(FAST, page_weight="real")
STORED = """async () => {
  const dbs = await indexedDB.databases();
  if (!dbs.some((d) => d.name === 'model-storage')) return 0;
  const db = await new Promise((ok) => {
    const r = indexedDB.open('model-storage');
    r.onsuccess = () => ok(r.result);
  });
  if (!db.objectStoreNames.contains('message')) return 0;
  const n = await new Promise((ok) => {
    const r = db.transaction('message').objectStore('message').count();
    r.onsuccess = () => ok(r.result);
  });
  db.close();
  return n;
}"""
HEAP = "() => window.__sandboxWeight.stats().models"


async def _snapshot_bytes(context: BrowserContext) -> int:
    state: Any = await context.storage_state(indexed_db=True)
    return len(json.dumps(state))


@pytest.mark.sandbox_options(REAL)
async def test_a_real_weight_page_keeps_heap_dom_and_stored_messages(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    assert await page.evaluate(HEAP) == 0, "nothing is loaded before the link"
    await link(page, phone)
    await page.wait_for_function(f"async () => (await ({STORED})()) >= {REAL_WEIGHT.store_kb}")
    assert await page.evaluate(HEAP) >= REAL_WEIGHT.heap_mb * 1024 * 1024 // 400
    rows = await page.evaluate("document.querySelectorAll('#weight-chat-list .chat-row').length")
    assert rows == REAL_WEIGHT.dom_rows
    # The login UI is untouched: automation still finds the chat list where it looks.
    assert await page.locator("#pane-side").count() == 1
    # The snapshot carries them (its read may trail the page's last commits a moment).
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    size = await _snapshot_bytes(context)
    while size <= REAL_WEIGHT.store_kb * 1024 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
        size = await _snapshot_bytes(context)
    assert size > REAL_WEIGHT.store_kb * 1024


async def test_a_light_page_stays_light(
    context: BrowserContext, sandbox: SandboxServer, phone: AsyncTestPhone
) -> None:
    page = await open_login(context, sandbox.url)
    await link(page, phone)
    assert await page.evaluate(HEAP) == 0
    assert await page.evaluate(STORED) == 0
    assert await page.locator("#weight-chat-list").count() == 0
    assert await _snapshot_bytes(context) < 64 * 1024


async def test_keep_alive_is_answered_and_the_option_is_checked() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def close(_code: int) -> None:
        return None

    world = SandboxWorld(REAL)
    page = world.open_page(send, close)
    key = "A" * 43 + "="
    await world.handle(
        page, {"type": "hello", "noise": key, "identity": key, "adv": key, "platform": "WEB"}
    )
    await world.handle(page, {"type": "ping"})
    assert sent[-1] == {"type": "pong"}
    await world.aclose()
    assert REAL.weight_spec() is not None and FAST.weight_spec() is None
    with pytest.raises(ValueError, match="page_weight"):
        SandboxOptions(page_weight="heavy")
