"""`SessionHost`: one instance's Chromium and the sessions in it.

Everything the instance process (`_instance*.py`) needs from the browser side
goes through this class; it never touches the store. Every fact is passed to
`emit` (synchronously, on the host's loop) as an event from
`app.domain.events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from playwright.async_api import Browser, Page

from app.config import Settings
from app.domain.events import EngineEvent, PairingCodeIssued, QrIssued, utcnow
from app.domain.models import SessionInfo
from app.domain.proxy import Proxy
from app.domain.states import Reason
from app.engine.browser.launch import BrowserLauncher, ChromiumLauncher
from app.engine.browser.proxy import playwright_proxy
from app.engine.browser.storage_restore import plan_restore
from app.engine.browser.whatsapp_web import Sink, WhatsAppWebPage
from app.engine.errors import BrowserUnavailable, SessionLocked, UnknownSession
from app.engine.session.flow import Session
from app.engine.session.folder import SessionFolder
from app.engine.session.health import HealthPolicy
from app.engine.session.snapshot_budget import SnapshotBudget
from app.engine.session.warm_pool import PageSlot, WarmPool
from app.engine.wire import MAX_WARM_UP_PAGES, WARM_UP_SECONDS

log = logging.getLogger(__name__)


class _Removable(Protocol):
    """What `page.add_init_script` returns: `close()` removes the script."""

    async def close(self) -> None: ...


class SessionHost:
    """One instance's browser and sessions.

    Keyword arguments: `settings` (isolation, warm_pool, sessions_dir,
    qr_limit, heartbeat_interval, retry_budget, effective_start_concurrency,
    time_scale), `instance_id` (stamped on every event), `provider_url` (the
    login page: the sandbox URL or https://web.whatsapp.com/), `emit` (called
    with every event), `launcher` (default `ChromiumLauncher`), `clock`
    (timestamps), `snapshot_interval` (seconds between periodic snapshots of a
    connected session, written only when changed), `heartbeat_timeout`
    (seconds before a silent page counts as hung), `reconnect_grace` (seconds a
    page may spend getting its lost socket back before it is reopened),
    `boot_timeout` (seconds for
    a login page to boot), `rng` (backoff jitter).

    Lifecycle: `await start()` (launches Chromium in context mode and fills
    the warm pool), then the session methods (and `warm_up`, which grows the
    pool for a while), then `await aclose()`, which snapshots and closes every
    session, the pool, the browser and the driver.

    Events of one session, in order (states with their reason):
      new account:  starting -> [QrIssued] qr -> (QrIssued per new ref) -> pairing
                    -> connected + SessionReady(restored=False)   (snapshot written first)
      saved login:  starting -> connected + SessionReady(restored=True), no QR
      no scan:      qr -> qr_idle(qr_expired) -> qr (QrIssued, is_regeneration) ...
                    -> failed(qr_limit) + SessionError after `qr_limit` batches
      crash/hang:   disconnected(browser_crash|timeout) -> starting -> connected ...
                    or failed(reason) + SessionError when `retry_budget` is spent
      socket blip:  connected -> disconnected(timeout) -> connected + SessionReady
      phone unlink: logged_out(LOGOUT) (snapshot deleted); operator: logged_out(user_initiated)
      conflict:     disconnected(CONFLICT), page closed, nothing more until `restart_session`
      corrupt:      starting -> failed(state_corrupt) + SessionError
      by phone:     qr -> [PairingCodeIssued per code, every 180 s scaled] -> pairing ...
      passkey:      pairing -> passkey_required -> (open_window) -> connected
      block:        ... -> failed(PROXYBLOCK|TOS_BLOCK|SMB_TOS_BLOCK|DEPRECATED_VERSION)
      proxy down:   starting -> failed(proxy_unreachable)
      stop/aclose:  stopped(user_initiated|instance_restart)
    plus SessionHeartbeat every `heartbeat_interval` while a page is open.

    Session methods raise `SessionLocked` (the session is open here or in
    another process), `UnknownSession`, or `app.engine.errors.Conflict`
    (an operation that makes no sense in the session's state). Everything that
    happens later (QRs, connection, crashes, recovery) arrives as events.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        instance_id: str,
        provider_url: str,
        emit: Callable[[EngineEvent], None],
        launcher: BrowserLauncher | None = None,
        clock: Callable[[], datetime] = utcnow,
        snapshot_interval: float = 60.0,
        heartbeat_timeout: float | None = None,
        reconnect_grace: float | None = None,
        boot_timeout: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.instance_id = instance_id
        self.provider_url = provider_url
        self.policy = HealthPolicy.from_settings(
            settings,
            snapshot_interval=snapshot_interval,
            heartbeat_timeout=heartbeat_timeout,
            reconnect_grace=reconnect_grace,
            rng=rng,
        )
        self._emit = emit
        self._clock = clock
        self._boot_timeout = boot_timeout
        self._launcher: BrowserLauncher = launcher or ChromiumLauncher(settings)
        self._profile = settings.isolation == "profile"
        self._admission = asyncio.Semaphore(settings.effective_start_concurrency)
        self.snapshot_budget = SnapshotBudget()
        self._sessions: dict[str, Session] = {}
        self._browser: Browser | None = None
        self._browser_ready = asyncio.Event()
        self._browser_lost = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._pool: WarmPool | None = None
        self._warm_timer: asyncio.Task[None] | None = None  # ends the current warm-up
        self._closing = False
        self.browser_launches = 0

    # ------------------------------------------------------- host services

    def emit(self, event: EngineEvent) -> None:
        try:
            self._emit(event)
        except Exception:
            log.exception("the event consumer failed on %s", type(event).__name__)

    def now(self) -> datetime:
        return self._clock()

    def take_pooled(self) -> PageSlot | None:
        return self._pool.take() if self._pool is not None else None

    async def open_slot(
        self,
        folder: SessionFolder,
        state: dict[str, Any] | None,
        sink: Sink,
        *,
        proxy: Proxy | None = None,
    ) -> PageSlot:
        """A new context (or profile browser) with the login page booted and hooked,
        going out through the account's own `proxy` when it has one.

        The start semaphore admits the expensive part (a new renderer loading
        the page); waiting for the site to boot is idle time and happens
        outside it, so a slow site does not hold up other starts.
        """
        settings = playwright_proxy(proxy) if proxy is not None else None
        restore_script: _Removable | None = None
        async with self._admission:
            if self._profile:
                context = await self._launcher.launch_persistent(
                    folder.ensure_profile(), proxy=settings
                )
                page = context.pages[0] if context.pages else await context.new_page()
            else:
                browser = await self._available_browser()
                plan = plan_restore(state, self.provider_url)
                context = await browser.new_context(
                    storage_state=plan.context_state,  # type: ignore[arg-type]
                    proxy=settings,
                )
                try:
                    page = await context.new_page()
                    if plan.page_script is not None:
                        restore_script = await page.add_init_script(plan.page_script)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await context.close()
                    raise
            provider = self._provider(page, sink)
            slot = PageSlot(context, provider)
            slot.watch_close()
            try:
                await provider.open(timeout=self._boot_timeout)
                if restore_script is not None:
                    # The first document has run it; the page (and the browser for it)
                    # need not keep a snapshot-sized script for later navigations.
                    await restore_script.close()
            except BaseException:
                await slot.close()
                raise
        try:
            await provider.inject(timeout=self._boot_timeout)
        except BaseException:
            await slot.close()
            raise
        return slot

    def _provider(self, page: Page, sink: Sink, *, window: bool = False) -> WhatsAppWebPage:
        return WhatsAppWebPage(
            page,
            url=self.provider_url,
            time_scale=self.settings.time_scale,
            clock=self._clock,
            sink=sink,
            draw_linked=window,  # a window is looked at; a headless page is not
        )

    async def open_window_slot(
        self, state: dict[str, Any] | None, sink: Sink, *, proxy: Proxy | None = None
    ) -> PageSlot:
        """The login page with `state` in a window of a headed Chromium of its own, on the
        operator's display (`NoDisplay` without one); closing the slot closes the browser."""
        browser = await self._launcher.launch_window()
        try:
            context = await browser.new_context(
                storage_state=state,  # type: ignore[arg-type]
                proxy=playwright_proxy(proxy) if proxy is not None else None,
                no_viewport=True,
            )
            page = await context.new_page()
            provider = self._provider(page, sink, window=True)
            slot = PageSlot(context, provider, browser=browser)
            slot.watch_close()
            await provider.install(timeout=self._boot_timeout)
            await page.bring_to_front()
        except BaseException:
            with contextlib.suppress(Exception):
                await browser.close()
            raise
        return slot

    # ------------------------------------------------------------ browser

    async def start(self) -> None:
        """Start the driver, launch Chromium (context mode) and fill the warm pool."""
        await self._launcher.start()
        if self._profile:
            return
        await self._launch_browser()
        self._watcher = asyncio.create_task(self._watch_browser(), name="browser-watch")
        if self.settings.warm_pool > 0:
            await self._open_pool(self.settings.warm_pool)

    async def _open_pool(self, size: int) -> WarmPool:
        pool = self._pool = WarmPool(
            size=size, make_slot=self._pool_slot, qr_timeout=self._boot_timeout
        )
        await pool.start()
        return pool

    async def _pool_slot(self, sink: Sink) -> PageSlot:
        return await self.open_slot(
            SessionFolder(self.settings.sessions_dir, 0, "pool"), None, sink
        )

    async def _launch_browser(self) -> None:
        browser = await self._launcher.launch()
        self.browser_launches += 1
        browser.on("disconnected", self._on_browser_disconnected)
        self._browser = browser
        self._browser_lost.clear()
        self._browser_ready.set()

    def _on_browser_disconnected(self, browser: Browser) -> None:
        if self._closing or browser is not self._browser:
            return
        log.error("instance %s: Chromium exited unexpectedly; relaunching", self.instance_id)
        self._browser = None
        self._browser_ready.clear()
        self._browser_lost.set()
        if self._pool is not None:
            self._pool.discard_all()

    async def _watch_browser(self) -> None:
        """Relaunch a crashed browser; its sessions see their contexts close and
        recover by themselves once the new browser is there."""
        failures = 0
        while True:
            await self._browser_lost.wait()
            try:
                await self._launch_browser()
                failures = 0
            except Exception as exc:  # keep trying with backoff
                failures += 1
                log.error("relaunching Chromium failed (%d): %s", failures, exc)
                await asyncio.sleep(self.policy.backoff(failures))

    async def _available_browser(self) -> Browser:
        try:
            async with asyncio.timeout(self._boot_timeout):
                await self._browser_ready.wait()
        except TimeoutError:
            raise BrowserUnavailable(
                f"instance {self.instance_id}: Chromium is not running and could not be "
                "restarted; see the instance log"
            ) from None
        assert self._browser is not None
        return self._browser

    # ------------------------------------------------------------ sessions

    def _get(self, session_id: str) -> Session:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UnknownSession(session_id) from None

    async def start_session(
        self, *, session_id: str, workspace_id: int, label: str = "", proxy: Proxy | None = None
    ) -> SessionInfo:
        """Start a session: from its snapshot when there is one (then `connected`
        without a QR), else on a login page, from the warm pool when one is ready
        (its QR is emitted at once; never for a session with a `proxy`, whose page
        must go out through it). Returns once the page is booted. A session parked
        here (logged out, failed, in conflict) is started again."""
        if self._closing:
            raise BrowserUnavailable(f"instance {self.instance_id} is shutting down")
        existing = self._sessions.get(session_id)
        if existing is not None:
            if existing.active:
                raise SessionLocked(session_id)
            existing.label = label or existing.label
            existing.proxy = proxy
            await existing.call(lambda: existing.start(Reason.USER_INITIATED), timeout=300)
            return existing.info()
        session = Session(
            self, session_id=session_id, workspace_id=workspace_id, label=label, proxy=proxy
        )
        session.folder.lock()  # raises SessionLocked; a non-blocking flock, no thread needed
        self._sessions[session_id] = session
        session.start_tasks()
        try:
            await session.call(session.start, timeout=self._boot_timeout * 5)
        except TimeoutError:
            pass  # still starting (long admission queue): events tell the rest
        return session.info()

    async def restore_sessions(
        self, items: Iterable[tuple[str, int, str]], *, stagger: float = 0.1
    ) -> list[SessionInfo | BaseException]:
        """Open many `(session_id, workspace_id, label)` sessions, starts spread by
        `stagger` seconds (the admission limit bounds how many boot at once)."""

        async def one(index: int, item: tuple[str, int, str]) -> SessionInfo:
            await asyncio.sleep(index * stagger)
            return await self.start_session(session_id=item[0], workspace_id=item[1], label=item[2])

        tasks: Sequence[Any] = [one(i, item) for i, item in enumerate(items)]
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    async def stop_session(
        self, session_id: str, *, reason: Reason = Reason.USER_INITIATED
    ) -> None:
        """Snapshot (if connected), close the page, emit `stopped`, release the lock."""
        session = self._get(session_id)
        try:
            await session.stop(reason)
        finally:
            self._sessions.pop(session_id, None)
            self.snapshot_budget.forget(session_id)

    async def logout_session(self, session_id: str) -> None:
        """Unlink the device (Socket.logout in the page) and delete local state."""
        session = self._get(session_id)
        await session.call(session.logout, timeout=60)

    async def regenerate_qr(self, session_id: str, *, wait: bool = True) -> QrIssued | None:
        """Reload the QR at once (operator request); with `wait`, returns the new QR."""
        session = self._get(session_id)
        if not wait:
            await session.call(session.regenerate_qr, timeout=self._boot_timeout * 2)
            return None
        waiter = session.expect_qr()
        try:
            await session.call(session.regenerate_qr, timeout=self._boot_timeout * 2)
            async with asyncio.timeout(self._boot_timeout):
                return await waiter
        finally:
            waiter.cancel()

    async def restart_session(self, session_id: str, *, proxy: Proxy | None = None) -> None:
        """Close the page and reopen the session from its snapshot (with `proxy`, the
        account's proxy as it is now)."""
        session = self._get(session_id)
        session.proxy = proxy
        await session.call(session.restart, timeout=self._boot_timeout * 5)

    async def request_pairing_code(self, session_id: str, phone: str) -> PairingCodeIssued:
        """Switch the session's page to "link with phone number" and return its first code
        (renewals follow as `PairingCodeIssued` events). A session still opening its page
        gets the code once its first QR is on screen."""
        session = self._get(session_id)
        if not session.state.waiting_for_scan:
            waiter = session.expect_qr()
            try:
                async with asyncio.timeout(self._boot_timeout):
                    await waiter
            except TimeoutError:
                raise BrowserUnavailable(
                    f"session {session_id} showed no login screen within "
                    f"{self._boot_timeout:.0f} s; check its state, then ask again"
                ) from None
            finally:
                waiter.cancel()
        return cast(
            PairingCodeIssued,
            await session.call(
                lambda: session.request_pairing_code(phone), timeout=self._boot_timeout
            ),
        )

    async def open_window(self, session_id: str) -> None:
        """Show a session waiting for its passkey in a window on the operator's screen."""
        session = self._get(session_id)
        await session.call(session.open_window, timeout=self._boot_timeout * 2)

    def sessions(self) -> list[SessionInfo]:
        return [s.info() for s in self._sessions.values()]

    def session(self, session_id: str) -> SessionInfo:
        return self._get(session_id).info()

    @property
    def pool(self) -> WarmPool | None:
        return self._pool

    def warm_status(self) -> tuple[int, int]:
        """(pages ready with a QR, pages the pool keeps now, a warm-up included):
        0/0 with the pool off."""
        if self._pool is None:
            return 0, 0
        return self._pool.ready_count, self._pool.size

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> int:
        """Keep `pages` login pages booted in the pool for the next `seconds` (a batch
        of accounts is about to be onboarded), then go back to the `warm_pool` setting.
        The pool keeps at least that setting and at most `MAX_WARM_UP_PAGES` (a higher
        setting wins); `pages=0` ends a warm-up now. A newer call replaces the one
        before, timer included. Returns the pages the pool keeps now.

        In profile isolation mode there is no pool (a profile-mode session needs its
        own user data dir from the first byte), so this does nothing and returns 0.
        With `warm_pool = 0` in context mode, a warm-up creates the pool."""
        if self._profile or self._closing:
            return 0
        if pages < 0 or seconds <= 0:
            raise ValueError(f"a warm-up needs pages >= 0 and seconds > 0, not {pages}, {seconds}")
        setting = self.settings.warm_pool
        target = max(setting, min(pages, MAX_WARM_UP_PAGES))
        if self._warm_timer is not None:
            self._warm_timer.cancel()
            self._warm_timer = None
        if self._pool is None and target == 0:
            return 0
        # The timer is in place before the first await, so a call that overtakes this
        # one while its surplus pages close still cancels it.
        if target != setting:
            self._warm_timer = asyncio.create_task(self._end_warm_up(seconds), name="warm-up timer")
        log.info(
            "instance %s: warm pool keeps %d page(s)%s",
            self.instance_id,
            target,
            f" for {seconds:.0f} s" if target != setting else "",
        )
        if self._pool is None:
            await self._open_pool(target)
        else:
            await self._pool.resize(target)
        return target

    async def _end_warm_up(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._warm_timer = None  # before resizing: this task is done being replaceable
        if self._pool is not None and not self._closing:
            log.info("instance %s: warm-up over after %.0f s", self.instance_id, seconds)
            await self._pool.resize(self.settings.warm_pool)

    # ------------------------------------------------------------ shutdown

    async def aclose(self, *, reason: Reason = Reason.INSTANCE_RESTART) -> None:
        """Snapshot and close every session, then the pool, the browser and the driver."""
        self._closing = True
        sessions = list(self._sessions.values())
        results = await asyncio.gather(*(s.stop(reason) for s in sessions), return_exceptions=True)
        for session, result in zip(sessions, results, strict=True):
            if isinstance(result, BaseException):
                log.error("stopping session %s failed: %s", session.session_id, result)
        self._sessions.clear()
        if self._warm_timer is not None:
            self._warm_timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm_timer
            self._warm_timer = None
        if self._pool is not None:
            await self._pool.aclose()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._browser is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(30):
                    await self._browser.close()
            self._browser = None
        await self._launcher.aclose()
