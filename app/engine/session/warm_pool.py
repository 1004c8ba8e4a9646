"""Booted login pages bound to no account yet, so "add account" shows a QR at once.

A `PageSlot` is one browser context with its provider page. The pool keeps
`size` of them booted and showing a QR; `take()` hands one over (the caller
swaps the page's sink and replays the QR it already shows) and wakes the
filler, an owned task that replaces it in the background. Pages whose batch
ran out, that crashed or navigated away are closed and replaced rather than
reloaded: a fresh page is a fresh batch and costs about the same. `resize()`
changes `size` at run time (a warm-up before a batch of accounts is onboarded):
growing wakes the filler, shrinking closes the surplus ready pages.

Pool pages exist only in `context` isolation mode: a profile-mode session
needs its own user data dir from the first byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from app.domain.states import Reason
from app.engine.browser.signals import (
    Blocked,
    Crashed,
    Idle,
    LoggedOut,
    Navigated,
    PageSignal,
    Qr,
    WindowClosed,
)
from app.engine.browser.whatsapp_web import Sink, WhatsAppWebPage

log = logging.getLogger(__name__)


@dataclass(eq=False)
class PageSlot:
    """A browser context and its provider page; closing one closes both.

    A window's slot (`browser` set) owns a headed browser of its own, closed with it;
    the operator closing the window is reported as `WindowClosed`, not as a crash."""

    context: BrowserContext
    page: WhatsAppWebPage
    closing: bool = field(default=False)
    browser: Browser | None = None

    @property
    def window(self) -> bool:
        return self.browser is not None

    def watch_close(self) -> None:
        """Report the context dying under us (browser crash) as a crash signal."""

        def on_close(_target: BrowserContext | Page | Browser) -> None:
            if self.closing:
                return
            if self.window:
                self.page.report(WindowClosed())
            else:
                self.page.report(Crashed(Reason.BROWSER_CRASH, "the browser closed unexpectedly"))

        self.context.on("close", on_close)
        if self.browser is not None:
            self.page.page.on("close", on_close)
            self.browser.on("disconnected", on_close)

    async def close(self, *, timeout: float = 30.0) -> None:
        if self.closing:
            return
        self.closing = True
        self.page.closed = True
        with contextlib.suppress(PlaywrightError, TimeoutError):
            async with asyncio.timeout(timeout):
                await self.context.close()
                if self.browser is not None:
                    await self.browser.close()


SlotFactory = Callable[[Sink], Awaitable[PageSlot]]


class _Pooled:
    def __init__(self) -> None:
        self.slot: PageSlot | None = None
        self.has_qr = asyncio.Event()
        self.stale = False

    def sink(self, signal: PageSignal) -> None:
        if isinstance(signal, Qr):
            self.has_qr.set()
        elif isinstance(signal, Idle | Crashed | LoggedOut | Navigated | Blocked):
            self.stale = True


class WarmPool:
    """`size` pre-booted login pages; `take()` is synchronous and never waits."""

    def __init__(self, *, size: int, make_slot: SlotFactory, qr_timeout: float = 60.0) -> None:
        self._size = size
        self._make_slot = make_slot
        self._qr_timeout = qr_timeout
        self._ready: list[_Pooled] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._booting: _Pooled | None = None
        self.created = 0

    async def start(self) -> None:
        self._start_filler()

    def _start_filler(self) -> None:
        if self._size > 0 and self._task is None:
            self._task = asyncio.create_task(self._fill(), name="warm-pool")

    @property
    def size(self) -> int:
        """How many ready pages the pool keeps."""
        return self._size

    async def resize(self, size: int) -> None:
        """Keep `size` ready pages from now on. Growing wakes the filler (which boots
        one page at a time); shrinking closes the surplus ready pages at once, the
        oldest first (their QR batch runs out soonest). A page a session already took
        is the session's and is never touched; a page still booting is closed by the
        filler once it is up, if it is surplus by then."""
        if size < 0:
            raise ValueError(f"a warm pool keeps 0 or more pages, not {size}")
        self._size = size
        surplus = self._surplus()
        self._wake.set()
        self._start_filler()
        for pooled in surplus:
            if pooled.slot:
                await pooled.slot.close()

    def _surplus(self) -> list[_Pooled]:
        """Take the ready pages beyond `size` out of the pool (stale ones first), to close."""
        excess = len(self._ready) - self._size
        if excess <= 0:
            return []
        ordered = [p for p in self._ready if p.stale] + [p for p in self._ready if not p.stale]
        surplus = ordered[:excess]
        self._ready = [p for p in self._ready if p not in surplus]
        return surplus

    def take(self) -> PageSlot | None:
        """A booted page showing a live QR, or None when the pool is empty."""
        self._wake.set()
        for pooled in list(self._ready):
            page = pooled.slot.page if pooled.slot else None
            if pooled.stale or page is None or page.idle or page.last_qr is None:
                continue
            self._ready.remove(pooled)
            return pooled.slot
        return None

    @property
    def ready_count(self) -> int:
        return sum(1 for p in self._ready if not p.stale and p.slot and p.slot.page.last_qr)

    async def wait_ready(self, count: int | None = None, *, timeout: float = 60.0) -> None:
        """Until `count` (default: all) pages show a QR; for tests and benchmarks."""
        want = self._size if count is None else count
        async with asyncio.timeout(timeout):
            while self.ready_count < want:
                await asyncio.sleep(0.05)

    def discard_all(self) -> None:
        """Forget every page (their browser is gone); the filler makes new ones."""
        for pooled in self._ready:
            pooled.stale = True
        self._wake.set()

    async def _fill(self) -> None:
        failures = 0
        while True:
            stale = [p for p in self._ready if p.stale]
            self._ready = [p for p in self._ready if not p.stale]
            for pooled in stale + self._surplus():  # surplus: a page booted as it shrank
                if pooled.slot:
                    await pooled.slot.close()
            while len(self._ready) < self._size:
                pooled = self._booting = _Pooled()
                try:
                    pooled.slot = await self._make_slot(pooled.sink)
                    self.created += 1
                    async with asyncio.timeout(self._qr_timeout):
                        await pooled.has_qr.wait()
                except Exception as exc:  # any failure: retry later
                    log.warning("warm pool: could not boot a login page: %s", exc)
                    if pooled.slot:
                        await pooled.slot.close()
                    failures += 1
                    await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                    break
                failures = 0
                self._booting = None
                self._ready.append(pooled)
            self._wake.clear()
            if any(p.stale for p in self._ready) or len(self._ready) != self._size:
                continue
            await self._wake.wait()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        pooled, self._ready = self._ready, []
        if self._booting is not None:
            # Cancelled mid-boot: that page is in neither list yet.
            pooled.append(self._booting)
            self._booting = None
        for p in pooled:
            if p.slot:
                await p.slot.close()
