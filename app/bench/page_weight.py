"""page-weight: what one linked sandbox page costs at each page weight.

For each weight ("light", "real"), one headless Chromium with the engine's
flags opens PAGES linked pages, each in its own browser context (so each has
a renderer process of its own), and measures per page:
- renderer PSS (the renderer processes of the browser's tree, summed, / PAGES);
- JavaScript heap used (DevTools `Runtime.getHeapUsage`);
- DOM nodes (`document.getElementsByTagName('*')`);
- IndexedDB usage (`navigator.storage.estimate()`);
- the snapshot (`storage_state(indexed_db=True)`): its JSON size and the time to take it.

It is the calibration docs/SANDBOX.md ("Page weight") quotes, and it tells
what a renderer costs apart from the engine around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import psutil

from app.bench._context import BenchContext
from app.bench._harness import ScenarioResult, mib, pss_of

NAME = "page-weight"
SETTLE_S = 3.0
PHONE_BASE = 6289900000000


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    pages = 1 if ctx.options.quick else 3
    figures: dict[str, Any] = result.figures
    figures["pages"] = pages
    for weight in ("light", "real"):
        figures[weight] = await measure(ctx.chromium_path, weight, pages)
    for key, label in (
        ("renderer_pss_bytes", "renderer PSS / page"),
        ("renderer_uss_bytes", "renderer USS / page"),
        ("js_heap_used_bytes", "JS heap used / page"),
        ("indexeddb_bytes", "IndexedDB / page"),
        ("snapshot_bytes", "snapshot JSON / page"),
    ):
        result.row(
            label, f"{mib(figures['light'][key])} light", f"{mib(figures['real'][key])} real"
        )
    result.row(
        "DOM nodes / page",
        f"{figures['light']['dom_nodes']} light",
        f"{figures['real']['dom_nodes']} real",
    )


async def measure(
    chromium_path: str | None,
    weight: str,
    pages: int,
    *,
    extra_args: tuple[str, ...] = (),
    purge: bool = False,
) -> dict[str, Any]:
    """Link `pages` pages at `weight` and measure them (see the module doc)."""
    from playwright.async_api import async_playwright

    from app.engine.chromium import CHROMIUM_FLAGS, DISABLED_FEATURES
    from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer

    options = SandboxOptions(boot_delay=0.0, sync_delay=0.2, pair_delay=0.1, page_weight=weight)
    async with SandboxServer(options) as sandbox, AsyncTestPhone(sandbox.url) as phone:
        # The engine's flags and its disabled features (the omnibox popups' renderers),
        # so the renderers counted are the pages' and nothing else.
        args = [*CHROMIUM_FLAGS, "--disable-features=" + ",".join(DISABLED_FEATURES), *extra_args]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium_path, args=args, headless=True
            )
            try:
                # Renderers alive before any page (a spare one Chromium keeps) are not the pages'.
                before = _renderer_pss()
                opened = [await _linked_page(browser, sandbox.url, phone, i) for i in range(pages)]
                for page in opened:
                    if purge:
                        await _purge(page)
                await asyncio.sleep(SETTLE_S)
                out = await _per_page(opened, before)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.close(), 30)
    return out


async def _linked_page(browser: Any, url: str, phone: Any, index: int) -> Any:
    context = await browser.new_context()
    context.set_default_timeout(60_000)
    page = await context.new_page()
    await page.goto(url)
    div = page.locator("div[data-ref]:has(canvas)")
    await div.wait_for()
    await phone.scan(await div.get_attribute("data-ref"), str(PHONE_BASE + index))
    await page.wait_for_function(
        "() => window.require('WAWebSocketModel').Socket.hasSynced === true"
    )
    await page.wait_for_function(_STORE_FILLED, timeout=120_000)
    return page


# The weight's store is written after the heap and DOM: filled means the page is whole.
_STORE_FILLED = """async () => {
  const spec = JSON.parse(document.getElementById('sandbox-config').textContent).weight;
  if (!spec) return true;
  const dbs = await indexedDB.databases();
  if (!dbs.some((d) => d.name === 'model-storage')) return false;
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open('model-storage');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  try {
    if (!db.objectStoreNames.contains('message')) return false;
    const n = await new Promise((ok, no) => {
      const r = db.transaction('message').objectStore('message').count();
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    return n >= spec.storeKb;
  } finally {
    db.close();
  }
}"""


async def _purge(page: Any) -> None:
    cdp = await page.context.new_cdp_session(page)
    try:
        await cdp.send("Memory.simulatePressureNotification", {"level": "critical"})
        await cdp.send("HeapProfiler.collectGarbage")
    finally:
        await cdp.detach()


async def _per_page(pages: list[Any], before: tuple[int, int, int]) -> dict[str, Any]:
    heaps: list[int] = []
    nodes: list[int] = []
    stored: list[int] = []
    snaps: list[int] = []
    snap_s: list[float] = []
    for page in pages:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("HeapProfiler.collectGarbage")
        heaps.append(int((await cdp.send("Runtime.getHeapUsage"))["usedSize"]))
        await cdp.detach()
        nodes.append(int(await page.evaluate("document.getElementsByTagName('*').length")))
        stored.append(int(await page.evaluate("navigator.storage.estimate().then(e => e.usage)")))
        started = time.perf_counter()
        state = await page.context.storage_state(indexed_db=True)
        snap_s.append(time.perf_counter() - started)
        snaps.append(len(json.dumps(state)))
    renderer, renderers, uss = _renderer_pss()
    n = len(pages)
    return {
        "renderers_before_after": [before[1], renderers],
        "renderer_pss_bytes": (renderer - before[0]) // n,
        # USS: pages only this renderer maps; unlike PSS it does not move with how many
        # other Chromiums on the machine share the binary's pages (other people's too).
        "renderer_uss_bytes": (uss - before[2]) // n,
        "js_heap_used_bytes": sum(heaps) // n,
        "dom_nodes": sum(nodes) // n,
        "indexeddb_bytes": sum(stored) // n,
        "snapshot_bytes": sum(snaps) // n,
        "snapshot_ms": round(1000 * sum(snap_s) / n, 1),
    }


def _renderer_pss() -> tuple[int, int, int]:
    """(PSS, count, USS) of this process's Chromium renderers (the pages'; no other is open)."""
    me = psutil.Process()
    renderers = []
    for proc in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "--type=renderer" in proc.cmdline():
                renderers.append(proc)
    pss, count = pss_of(renderers)
    uss = 0
    for proc in renderers:
        with contextlib.suppress(psutil.Error):
            uss += proc.memory_full_info().uss
    return pss, count, uss
