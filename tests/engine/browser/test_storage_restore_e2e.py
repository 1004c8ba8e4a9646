"""A saved login written by the login page itself, in a real Chromium.

Round trip: storage a page built (localStorage, IndexedDB with keys, indexes and
values JSON cannot hold) is saved with Playwright's `storage_state`, restored by
`js/restore_storage.js` into a new context, and saved again: the same. The site's
own scripts, which open the database as the page starts, find every record. A
reload of the tab does not restore again; a restore that fails says why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Route, async_playwright

from app.engine.browser.storage_restore import outcome, plan_restore
from app.engine.chromium import CHROMIUM_FLAGS, find_chromium

pytestmark = pytest.mark.e2e

URL = "http://login.test/"
# The site: reads its database as it starts, as WhatsApp Web does, and notes what it saw.
SITE = """<html><body><script>
if (location.hash !== '#build') {
  const open = indexedDB.open('keys');
  open.onupgradeneeded = () => { window.upgraded = true; };
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains('objs')) { window.seen = []; db.close(); return; }
    const all = db.transaction('objs').objectStore('objs').getAll();
    all.onsuccess = () => { window.seen = all.result.map((r) => r.id); db.close(); };
  };
}
</script></body></html>"""
BUILD = """async () => {
  localStorage.setItem('last-wid', '6281234567890@c.us');
  const open = indexedDB.open('keys', 3);
  open.onupgradeneeded = () => {
    const db = open.result;
    const objs = db.createObjectStore('objs', { keyPath: 'id' });
    objs.createIndex('byName', 'name', { unique: true });
    objs.createIndex('byTags', 'tags', { multiEntry: true });
    const shared = { n: 1 };
    objs.add({ id: 'noise', name: 'a', tags: ['x', 'y'], key: new Uint8Array([1, 2, 255]) });
    const at = new Date(86400000);
    objs.add({ id: 'when', name: 'b', tags: [], at, big: 12345678901234567890n });
    objs.add({ id: 'refs', name: 'c', tags: ['x'], left: shared, right: shared, nan: NaN });
    const raw = db.createObjectStore('raw');
    raw.add(new Map([['k', new Set([1, 2])]]), 'map');
    raw.add(new Uint16Array([7, 8]).buffer, [1, 'compound']);
    db.createObjectStore('counter', { autoIncrement: true }).add({ n: 1 });
  };
  await new Promise((resolve, reject) => { open.onsuccess = resolve; open.onerror = reject; });
  open.result.close();
}"""


@contextlib.asynccontextmanager
async def _browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=find_chromium().session_path, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 30)


async def _serve(context: BrowserContext) -> None:
    async def fulfil(route: Route) -> None:
        await route.fulfill(body=SITE, content_type="text/html")

    await context.route("http://*.test/**", fulfil)


async def _saved_login(browser: Browser) -> dict[str, Any]:
    context = await browser.new_context()
    await _serve(context)
    page = await context.new_page()
    await page.goto(URL + "#build")
    await page.evaluate(BUILD)
    state = dict(await context.storage_state(indexed_db=True))
    await context.close()
    return state


async def _restored(browser: Browser, state: dict[str, Any]) -> tuple[BrowserContext, Any]:
    plan = plan_restore(state, URL)
    assert plan.page_script is not None, "the login page's own storage is restored in the page"
    context = await browser.new_context(storage_state=plan.context_state)  # type: ignore[arg-type]
    await _serve(context)
    page = await context.new_page()
    await page.add_init_script(plan.page_script)
    await page.goto(URL)
    await page.wait_for_function("() => window.seen !== undefined")
    return context, page


async def test_a_saved_login_comes_back_whole_before_the_site_reads_it() -> None:
    async with _browser() as browser:
        saved = await _saved_login(browser)
        context, page = await _restored(browser, saved)
        assert await outcome(page) == "ok"
        assert await page.evaluate("() => [window.seen, window.upgraded]") == [
            ["noise", "refs", "when"],
            None,
        ], "the site's first open found the records, not an empty new database"
        again = await context.storage_state(indexed_db=True)
        assert again["origins"] == saved["origins"]
        assert (await page.evaluate("() => sessionStorage.length")) == 1, "only the mark"


async def test_a_reload_keeps_what_the_site_wrote_since() -> None:
    async with _browser() as browser:
        context, page = await _restored(browser, await _saved_login(browser))
        await page.evaluate("() => localStorage.setItem('last-wid', 'changed')")
        await page.reload()
        await page.wait_for_function("() => window.seen !== undefined")
        assert await page.evaluate("() => localStorage.getItem('last-wid')") == "changed"
        assert await outcome(page) == "ok"
        await page.goto("http://elsewhere.test/")
        assert await page.evaluate("() => localStorage.length") == 0, "another origin: untouched"
        assert await outcome(page) is None


async def test_a_restore_that_fails_says_why_and_the_site_finds_no_login() -> None:
    async with _browser() as browser:
        saved = await _saved_login(browser)
        stores = saved["origins"][0]["indexedDB"][0]["stores"]
        objs = next(store for store in stores if store["name"] == "objs")
        objs["records"].append({"value": {"name": "no id"}})  # no key under keyPath "id"
        _, page = await _restored(browser, saved)
        written = await outcome(page)
        assert written is not None and written.startswith("error: IndexedDB keys: DataError")
        assert await page.evaluate("() => window.seen") == []
