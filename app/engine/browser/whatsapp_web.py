"""The `whatsapp_web` provider adapter: one page of WhatsApp Web (or the sandbox).

`WhatsAppWebPage.install()` exposes the push binding, opens the login page,
waits for the site to boot and evaluates the in-page adapter
(`js/whatsapp_web.js`). From then on the page pushes facts and this class
turns them into `PageSignal`s for whoever owns the page (`sink`). Nothing is
polled: QR changes arrive as module events, DOM mutations or canvas draws.

Only `expose_binding` and `evaluate` touch the page, both of which the real
site tolerates (whatsapp-web.js does the same); no init script rewrites the
page before it boots.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page

from app.domain.states import TERMINAL_SOCKET_STATES, Reason
from app.engine.browser.signals import (
    Blocked,
    Conflict,
    Crashed,
    Idle,
    LoggedOut,
    Navigated,
    PageError,
    PageSignal,
    Passkey,
    Qr,
    Ready,
    SocketState,
)

log = logging.getLogger(__name__)

BINDING = "pairdeskPush"
ADAPTER_JS = resources.files("app.engine.browser").joinpath("js/whatsapp_web.js").read_text("utf-8")
# Boot = the site's own marker, or (older/changed sites) the login or chat DOM.
# Waits in the page (up to `ms`) for the site to have booted: its version global, or a
# login or chat screen. Polled by `evaluate` rather than `wait_for_function`, which would
# load Playwright's injected script (about 1 MiB) into every page's main world for good.
BOOT_WAIT_JS = """async (ms) => {
  const booted = () => !!((window.Debug && window.Debug.VERSION) ||
    document.querySelector('div[data-ref], canvas, #pane-side, [data-icon="search"]'));
  if (booted()) return true;
  return await new Promise((done) => {
    const check = () => { if (booted()) finish(true); };
    const observer = new MutationObserver(check);
    const poll = setInterval(check, 16);  // a global set by a script changes no DOM
    const timer = setTimeout(() => finish(booted()), ms);
    function finish(ok) {
      observer.disconnect();
      clearInterval(poll);
      clearTimeout(timer);
      done(ok);
    }
    observer.observe(document, { childList: true, subtree: true });
  });
}"""
BOOT_WAIT_SLICE_S = 5.0  # one evaluate's wait; a navigation in between starts a new one
QR_CANVAS = "div[data-ref] canvas, canvas[aria-label*='QR'], canvas[aria-label*='scan' i]"
PING_JS = "() => (performance.memory ? performance.memory.usedJSHeapSize : 0)"
# The real site's ref lifetimes (docs/SANDBOX.md): the page does not say them.
FIRST_REF_SECONDS = 60.0
NEXT_REF_SECONDS = 20.0

Sink = Callable[[PageSignal], None]


class ProxyRefused(RuntimeError):
    """The account's proxy answered the login page with 407 (wrong credentials)."""


class PairingCodeUnavailable(RuntimeError):
    """The page has no phone-number linking the adapter can drive."""


Clock = Callable[[], datetime]


def decode_qr_png(png: bytes) -> str:
    """The text of the QR code in a PNG screenshot, or '' when none can be read."""
    import zxingcpp
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(png)) as shot:
        # A white margin: the canvas edge may cut the quiet zone the decoder needs.
        image = ImageOps.expand(shot.convert("L"), border=24, fill=255)
    for result in zxingcpp.read_barcodes(image):
        if result.valid and result.text:
            return str(result.text)
    return ""


def _navigated_away(exc: PlaywrightError) -> bool:
    """Whether an evaluate failed only because its document went (a navigation)."""
    text = str(exc)
    return "Execution context was destroyed" in text or "Cannot find context" in text


class WhatsAppWebPage:
    """One login page with the adapter injected; signals go to `sink`."""

    def __init__(
        self,
        page: Page,
        *,
        url: str,
        time_scale: float,
        clock: Clock,
        sink: Sink | None = None,
        draw_linked: bool = False,
    ) -> None:
        self.page = page
        # Whether the page is still drawn once linked: only where someone looks at it
        # (the operator's window). A headless linked page is not laid out or painted.
        self.draw_linked = draw_linked
        self.url = url
        self.sink: Sink = sink or (lambda _s: None)
        self.strategy = ""
        self.last_qr: Qr | None = None
        self.idle = False
        self.closed = False
        self._time_scale = time_scale
        self._clock = clock
        self._batch_index = 0
        self._installed = False
        self._last_pixels = ""
        self._decode_lock = asyncio.Lock()

    # ------------------------------------------------------------------ set up

    async def install(self, *, timeout: float) -> str:
        """Open the login page and inject the adapter; returns the strategy in use."""
        await self.open(timeout=timeout)
        return await self.inject(timeout=timeout)

    async def open(self, *, timeout: float) -> None:
        """Expose the push binding and load the login page (the CPU-heavy part).

        A proxy that refuses the account's credentials answers the page itself with
        407: that is raised as `ProxyRefused` rather than waited out as a slow boot."""
        self.page.on("crash", self._on_crash)
        self.page.on("framenavigated", self._on_navigated)
        await self.page.expose_binding(BINDING, self._on_push)
        response = await self.page.goto(
            self.url, wait_until="domcontentloaded", timeout=timeout * 1000
        )
        if response is not None and response.status == 407:
            raise ProxyRefused("the proxy refused the account's user name or password (HTTP 407)")

    async def inject(self, *, timeout: float) -> str:
        """Wait for the site to boot, then evaluate the adapter (idempotent per document)."""
        await self._until_booted(timeout)
        options = {
            "binding": BINDING,
            "terminal": list(TERMINAL_SOCKET_STATES),
            "drawLinked": self.draw_linked,
        }
        strategy = await self.page.evaluate(ADAPTER_JS, options)
        self.strategy = str(strategy)
        self._installed = True
        return self.strategy

    async def _until_booted(self, timeout: float) -> None:
        """Return once the site has booted; `TimeoutError` after `timeout` seconds. A
        navigation while waiting (the page reloads itself) only starts a new wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"the login page did not boot within {timeout:.0f} s")
            try:
                wait_ms = int(1000 * min(left, BOOT_WAIT_SLICE_S))
                if await self.page.evaluate(BOOT_WAIT_JS, wait_ms):
                    return
            except PlaywrightError as exc:
                if self.page.is_closed() or not _navigated_away(exc):
                    raise

    # ---------------------------------------------------------------- commands

    async def regenerate_qr(self, *, timeout: float = 15.0) -> None:
        """Ask for a new QR batch (Cmd.refreshQR, or the reload button, else a reload)."""
        self._batch_index = 0
        self.idle = False
        async with asyncio.timeout(timeout):
            done = await self.page.evaluate(
                "async () => { const a = window.__pairdeskAdapter; if (!a) return false;"
                " const r = await a.regenerateQr(); return r !== false; }"
            )
            if not done:
                self._installed = False
                await self.page.reload(wait_until="domcontentloaded")
                await self.inject(timeout=timeout)

    async def request_pairing_code(self, phone: str, *, timeout: float = 30.0) -> str:
        """Switch the page to "link with phone number" and return its 8-character code
        (`startAltLinkingFlow`). `PairingCodeUnavailable` when the page offers none."""
        async with asyncio.timeout(timeout):
            code = await self.page.evaluate(
                "async (phone) => { const a = window.__pairdeskAdapter;"
                " return a && a.requestPairingCode ? await a.requestPairingCode(phone) : null; }",
                phone,
            )
        if not isinstance(code, str) or not code.strip():
            raise PairingCodeUnavailable(
                "this login page offers no pairing code (its modules are not readable); "
                "link the account with the QR code instead"
            )
        return code.replace("-", "").strip().upper()

    async def logout(self, *, timeout: float = 10.0) -> None:
        """Socket.logout() in the page; the page navigates away, which is expected."""
        with contextlib.suppress(PlaywrightError, TimeoutError):
            async with asyncio.timeout(timeout):
                await self.page.evaluate(
                    "async () => { const a = window.__pairdeskAdapter; if (a) await a.logout(); }"
                )

    async def ping(self, *, timeout: float) -> tuple[float, int]:
        """One evaluate round trip: (latency in ms, JS heap bytes). Raises TimeoutError."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(timeout):
            heap = await self.page.evaluate(PING_JS)
        return (loop.time() - started) * 1000.0, int(heap or 0)

    # ------------------------------------------------------------ page pushes

    def report(self, signal: PageSignal) -> None:
        """Hand a signal to the page's current owner (also used for context events)."""
        if not self.closed:
            self.sink(signal)

    _emit = report

    def _emit_qr(self, qr: str, method: str) -> None:
        now = self._clock()
        seconds = FIRST_REF_SECONDS if self._batch_index == 0 else NEXT_REF_SECONDS
        signal = Qr(
            qr=qr,
            method=method,
            issued_at=now,
            expires_at=now + timedelta(seconds=seconds * self._time_scale),
            index_in_batch=self._batch_index,
        )
        self._batch_index += 1
        self.idle = False
        self.last_qr = signal
        self._emit(signal)

    async def _on_push(self, _source: Any, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        kind = msg.get("t")
        if kind == "qr" and isinstance(msg.get("qr"), str) and msg["qr"]:
            self._emit_qr(msg["qr"], str(msg.get("method") or "modules"))
        elif kind == "state":
            self._emit(SocketState(str(msg.get("state")), bool(msg.get("synced"))))
        elif kind == "idle":
            self._batch_index = 0
            self.idle = True
            self._emit(Idle())
        elif kind == "ready":
            self.last_qr = None
            self._emit(
                Ready(
                    str(msg.get("phone") or ""), str(msg.get("platform") or ""), str(msg["method"])
                )
            )
        elif kind == "logout":
            self._emit(LoggedOut(str(msg.get("source") or "cmd")))
        elif kind == "conflict":
            self._emit(Conflict())
        elif kind == "passkey":
            self._emit(Passkey(str(msg.get("phase") or "asked"), str(msg.get("error") or "")))
        elif kind == "blocked" and msg.get("state") in TERMINAL_SOCKET_STATES:
            self._emit(Blocked(str(msg["state"])))
        elif kind == "canvas":
            await self._read_canvas()
        elif kind == "error":
            self._emit(PageError(str(msg.get("message"))[:500]))

    async def _read_canvas(self) -> None:
        """Last resort: decode the drawn QR from the canvas pixels."""
        async with self._decode_lock:
            try:
                # The QR's own canvas when it can be told apart, else the first canvas.
                qr_canvas = self.page.locator(QR_CANVAS).or_(self.page.locator("canvas"))
                png = await qr_canvas.first.screenshot(timeout=10_000)
            except PlaywrightError as exc:
                log.debug("canvas screenshot failed: %s", exc)
                return
            text = await asyncio.to_thread(decode_qr_png, png)
            if text and text != self._last_pixels:
                self._last_pixels = text
                self._emit_qr(text, "pixels")

    def _on_crash(self, _page: Page) -> None:
        self._emit(Crashed(Reason.BROWSER_CRASH, "the page's renderer process crashed"))

    def _on_navigated(self, frame: Frame) -> None:
        if frame is not self.page.main_frame or not self._installed:
            return
        if "post_logout=1" in frame.url:
            self._emit(LoggedOut("navigation"))
        else:
            self._installed = False
            self._emit(Navigated(frame.url))

    async def close(self) -> None:
        self.closed = True
