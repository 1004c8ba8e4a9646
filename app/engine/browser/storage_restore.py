"""A saved login restored by the login page itself rather than by Playwright.

Playwright's `new_context(storage_state=...)` writes an origin's web storage
(localStorage, IndexedDB) through a page of its own: it opens a page, routes
every request of it, loads the origin there, writes the storage and closes the
page. In context mode that is one more renderer process started and stopped
per restored session, and on two cores the restore of 300 sessions is
CPU-bound: the same light snapshot restored 20 times in one browser cost 480 ms
of CPU per restore that way against 335 ms with the script below
(docs/BENCHMARKS.md, "A restore without Playwright's storage page").

So when a snapshot's web storage belongs to the login page's own origin and
is small (`IN_PAGE_LIMIT`), the context gets only the cookies and the
session's page gets an init script (`js/restore_storage.js`) that writes the
storage at the start of its first document, before the site's scripts can
read it. Anything else (storage of
other origins, a file system snapshot, a big snapshot) is left to Playwright,
which handles every case.

Why big snapshots are left to Playwright: the page that runs the script keeps
the memory of parsing it. A real-weight snapshot (8.5 MiB) restored in the
page left its renderer at 133 MiB PSS against 105 MiB through Playwright's page
(whose renderer goes away with that page), and at that size both ways cost the
same CPU: what the script saves is the fixed cost of one more page.

A restore that did not take shows a QR and is reopened by the session's
existing rule (`flow.RESTORE_RETRIES`); `outcome()` says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page

RESTORE_JS = (
    resources.files("app.engine.browser").joinpath("js/restore_storage.js").read_text("utf-8")
)
MARK = "__pairdesk_restore"
"""The tab's sessionStorage key the script leaves: "ok", "pending" or "error: ..."."""

IN_PAGE_LIMIT = 1 << 20
"""Bytes of an origin's storage (as JSON) up to which the page restores it itself."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HANDLED = frozenset({"origin", "localStorage", "indexedDB"})


@dataclass(frozen=True)
class RestorePlan:
    """How one page gets a saved login: `context_state` for `new_context`, and the
    page's init script when the page writes the web storage itself (else None)."""

    context_state: dict[str, Any] | None
    page_script: str | None = None


def origin_of(url: str) -> str:
    """The origin a page at `url` has (`location.origin`): scheme, host, non-default port."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def plan_restore(state: dict[str, Any] | None, page_url: str) -> RestorePlan:
    """Split `state` between the context and the page at `page_url` (see module doc)."""
    if not state:
        return RestorePlan(state)
    kept = [o for o in state.get("origins") or [] if o.get("localStorage") or o.get("indexedDB")]
    others = [o for o in state.get("origins") or [] if any(o[k] for k in set(o) - _HANDLED)]
    cookies_only = {**state, "origins": []}
    if others:
        return RestorePlan(state)  # e.g. a file system snapshot: Playwright restores it
    if not kept:
        return RestorePlan(cookies_only)
    if len(kept) > 1 or kept[0].get("origin") != origin_of(page_url):
        return RestorePlan(state)
    origin = kept[0]
    storage = json.dumps(origin)
    if len(storage) > IN_PAGE_LIMIT:
        return RestorePlan(state)
    arguments = ", ".join((json.dumps(origin["origin"]), storage, json.dumps(MARK)))
    return RestorePlan(cookies_only, f"({RESTORE_JS})({arguments})")


async def outcome(page: Page) -> str | None:
    """What the page's restore script left in this tab: "ok", "pending", "error: ..."
    or None (no script ran here, or the page cannot be asked)."""
    try:
        value = await page.evaluate("(mark) => sessionStorage.getItem(mark)", MARK)
    except Exception:
        return None
    return value if isinstance(value, str) else None
