"""What a session does with each page signal and operator request.

A session's rules (docs/SESSIONS.md), in one place:
- every new ref is a `QrIssued` with its expiry; an exhausted batch is
  `qr_idle` and reloads at once, up to `qr_limit` batches, then `failed`;
- logged in and synced is `connected`: a snapshot is taken and `SessionReady`
  says whether it came from a saved login (`restored`, no QR);
- a logout (Cmd event or post_logout navigation) is `logged_out`, and the
  snapshot, now useless, is deleted;
- a conflict is `disconnected(CONFLICT)` and the page is closed: no automatic
  take-over, `restart` is the operator's explicit one;
- a crash or hang is `disconnected(reason)`, then reopened from the snapshot
  with backoff within the retry budget, then `failed`;
- the gates (docs/SESSIONS.md, "Gates"): a pairing code on request
  (`linking.PhoneLinking`); the page asking for the account's passkey is
  `passkey_required`, finished in a window on the operator's screen
  (`open_window`); a terminal socket state (a block, an outdated version) and a
  proxy that does not answer are `failed` with their own reason, never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

from app.domain.events import QrIssued, SessionReady
from app.domain.proxy import Proxy
from app.domain.states import TERMINAL_SOCKET_STATES, Reason, SessionState, can_transition
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
    WindowClosed,
)
from app.engine.browser.storage_restore import outcome as restore_outcome
from app.engine.browser.whatsapp_web import Sink
from app.engine.errors import Conflict as ConflictError
from app.engine.errors import StateCorrupt
from app.engine.session.folder import is_disk_full
from app.engine.session.gates import GateFlow
from app.engine.session.worker import HostServices, log
from app.engine.vault import VaultError

S = SessionState
# Reopenings from the snapshot before a QR shown during a restore is believed. Two
# were not enough: restoring 130 real-weight sessions at once, 24 pages showed a QR
# and one of them showed it three times (docs/BENCHMARKS.md); each reopening waits
# the recovery backoff (1, 2, 4, 8 s), so the later ones meet a calmer machine.
RESTORE_RETRIES = 4
# Socket states that are not "connected, momentarily not": verdicts, and the terminal
# states the adapter reports as `Blocked` on their own.
_VERDICTS = frozenset(
    {"CONNECTED", "CONFLICT", "UNPAIRED", "UNPAIRED_IDLE", "PAIRING", *TERMINAL_SOCKET_STATES}
)


class Session(GateFlow):
    """One account's session; see the module docstring for its rules."""

    def __init__(
        self,
        host: HostServices,
        *,
        session_id: str,
        workspace_id: int,
        label: str,
        proxy: Proxy | None = None,
    ) -> None:
        super().__init__(
            host, session_id=session_id, workspace_id=workspace_id, label=label, proxy=proxy
        )
        self._restoring = False
        self._restore_retries = 0
        self._batches = 0
        self._failures = 0
        self._regen_next = False
        self._qr_shown = False
        self._qr_waiters: list[asyncio.Future[QrIssued]] = []
        self._logout_seen = asyncio.Event()
        self._pending_meta: dict[str, Any] = {}  # meta.json not yet written (disk full)

    # --------------------------------------------------------------- plumbing

    def sink_for(self, gen: int) -> Sink:
        queue_it = super().sink_for(gen)

        def sink(signal: PageSignal) -> None:
            if isinstance(signal, LoggedOut):
                self._logout_seen.set()
            queue_it(signal)

        return sink

    def _to_starting(self, reason: Reason | None, detail: str = "") -> None:
        if not can_transition(self.state, S.STARTING):
            self.move(S.DISCONNECTED, reason)
        self.move(S.STARTING, reason, detail)

    @property
    def active(self) -> bool:
        """Running (or trying to): not parked after a logout, a failure or a conflict."""
        parked = self.state in (S.STOPPED, S.LOGGED_OUT, S.FAILED) or (
            self.state is S.DISCONNECTED and self.reason is Reason.CONFLICT
        )
        return not parked

    # ---------------------------------------------------------------- opening

    async def start(self, reason: Reason | None = None, *, fresh: bool = False) -> None:
        """Open the page (restoring the snapshot unless `fresh`); failures go to recovery."""
        try:
            await self._launch(reason, fresh=fresh)
        except Exception as exc:  # any failure to open is recovered (or is the proxy's)
            if not await self._proxy_failed(exc):
                await self._recover(Reason.ERROR, f"opening the page failed: {exc}")

    async def _launch(self, reason: Reason | None, *, fresh: bool = False) -> None:
        await self._close_slot()
        self.gen += 1
        gen = self.gen
        self._batches = 0
        self._qr_shown = False
        profile = self.host.settings.isolation == "profile"
        state: dict[str, Any] | None = None
        detail = ""
        if profile:
            linked = bool(self.folder.read_meta().get("linked"))
            self._restoring = not fresh and linked and self.folder.profile_dir.is_dir()
        elif not fresh:
            try:
                loaded = await self._load()
            except (StateCorrupt, VaultError) as exc:
                # A lost key (VaultError) leaves the login as unusable as a damaged file;
                # its message says how to put the key back.
                message = exc.message if isinstance(exc, StateCorrupt) else str(exc)
                self._to_starting(reason)
                self.move(S.FAILED, Reason.STATE_CORRUPT, message)
                self._error(Reason.STATE_CORRUPT, message)
                return
            if loaded is not None:
                state = loaded.state
                if loaded.fallback:
                    detail = "state.json was unreadable; restored from state.prev.json"
            self._restoring = state is not None
        else:
            self._restoring = False
        carried, self._carried = (None if self._restoring else self._carried), None
        self._to_starting(reason, detail)
        own = profile or self._restoring or self.proxy is not None or carried is not None
        pooled = None if own else self.host.take_pooled()
        if pooled is not None:
            pooled.page.sink = self.sink_for(gen)
            self.slot = pooled
            if pooled.page.last_qr is not None:
                # The QR the pooled page already shows is this session's first QR.
                await self.handle(pooled.page.last_qr)
            return
        self.slot = await self.host.open_slot(
            self.folder, state or carried, self.sink_for(gen), proxy=self.proxy
        )

    async def _restore_did_not_take(self) -> bool:
        """A page opened from a saved login shows a QR. Under heavy load the login can
        fail to reach the page (its storage not restored in time, IndexedDB not opening),
        and the page then makes new keys: a QR would cost the customer a scan for a
        login that still exists. So the page is reopened from the snapshot, up to
        RESTORE_RETRIES times, before the QR is believed (docs/SESSIONS.md)."""
        if not (self._restoring and self.state is S.STARTING):
            return False
        if self._restore_retries >= RESTORE_RETRIES:
            return False
        self._restore_retries += 1
        written = await restore_outcome(self.slot.page.page) if self.slot is not None else None
        log.warning(
            "session %s: the page opened from the saved login shows a QR; reopening it "
            "(%d/%d; the page's own restore of the login: %s)",
            self.session_id,
            self._restore_retries,
            RESTORE_RETRIES,
            written or "not used",
        )
        await self._recover(
            Reason.ERROR, "the saved login did not reach the page; reopening it from the snapshot"
        )
        return True

    async def _recover(self, reason: Reason, detail: str) -> None:
        policy = self.host.policy
        self.gen += 1  # signals of the dead page are void from here on
        if can_transition(self.state, S.DISCONNECTED):
            self.move(S.DISCONNECTED, reason, detail)
        await self._close_slot()
        while True:
            if self._failures >= policy.budget:
                message = (
                    f"session {self.session_id} could not be recovered after "
                    f"{self._failures} attempts ({detail}); check the instance and its "
                    "browser, then reconnect the session"
                )
                self.move(S.FAILED, reason, detail)
                self._error(reason, message)
                return
            delay = policy.backoff(self._failures)
            self._failures += 1
            await asyncio.sleep(delay)
            try:
                await self._launch(reason)
                return
            except Exception as exc:  # counted against the budget
                if await self._proxy_failed(exc):
                    return
                detail = f"reopening failed: {exc}"
                self.gen += 1
                if can_transition(self.state, S.DISCONNECTED):
                    self.move(S.DISCONNECTED, reason, detail)
                await self._close_slot()

    # ---------------------------------------------------------------- signals

    async def handle(self, signal: PageSignal) -> None:
        if isinstance(signal, Qr):
            if await self._restore_did_not_take():
                return
            self._on_qr(signal)
        elif isinstance(signal, SocketState):
            self._on_socket(signal)
        elif isinstance(signal, Idle):
            await self._on_idle()
        elif isinstance(signal, Ready):
            await self._on_ready(signal)
        elif isinstance(signal, LoggedOut):
            await self._on_logged_out(Reason.LOGOUT, "the phone unlinked this device")
        elif isinstance(signal, Conflict):
            await self._on_conflict()
        elif isinstance(signal, Passkey):
            self._on_passkey(signal)
        elif isinstance(signal, Blocked):
            await self._on_blocked(signal.state)
        elif isinstance(signal, WindowClosed):
            await self._on_window_closed()
        elif isinstance(signal, Crashed):
            await self._recover(signal.reason, signal.detail)
        elif isinstance(signal, Navigated):
            await self._on_navigated()
        elif isinstance(signal, PageError):
            log.warning("session %s: page reported: %s", self.session_id, signal.message)

    def _on_qr(self, qr: Qr) -> None:
        if self.state not in (S.STARTING, S.QR, S.QR_IDLE, S.PAIRING, S.PASSKEY_REQUIRED):
            return
        if self.linking.active and self.state.waiting_for_scan:
            return  # the code screen shows; refs keep turning underneath, unseen
        r = self.record
        r.qr_count += 1
        self._qr_shown = True
        r.qr, r.qr_issued_at, r.qr_expires_at = qr.qr, qr.issued_at, qr.expires_at
        r.extraction_method = qr.method
        self._failures = 0
        detail = ""
        if self._restoring and self.state is S.STARTING:
            detail = "the saved login was not accepted; a new QR must be scanned"
        self._restoring = False
        regeneration = self._regen_next or (qr.index_in_batch == 0 and r.qr_count > 1)
        self._regen_next = False
        self.move(S.QR, None, detail)
        event = self.last_qr_event(regeneration=regeneration)
        assert event is not None
        self.host.emit(event)
        waiters, self._qr_waiters = self._qr_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(event)

    def _on_socket(self, sig: SocketState) -> None:
        if sig.state == "PAIRING" and self.state is S.QR:
            self.move(S.PAIRING)
        elif sig.state == "CONNECTED" and not sig.synced and self.state is S.QR:
            self.move(S.PAIRING)
        elif sig.state == "CONNECTED":
            self._leaving_window = False
        elif self._leaving_window and sig.state == "OPENING":
            pass  # the headless page that replaced the window is opening its socket
        elif self.state is S.CONNECTED and sig.state not in _VERDICTS:
            # The page reconnects by itself; Ready brings the session back.
            self.move(S.DISCONNECTED, Reason.TIMEOUT, f"connection lost (socket {sig.state})")

    async def _on_idle(self) -> None:
        limit = self.host.settings.qr_limit
        if self.linking.active:
            return  # codes, not QR batches, count while the code screen shows
        if self.state is S.QR:
            self._batches += 1
            self.move(S.QR_IDLE, Reason.QR_EXPIRED, f"QR batch {self._batches} of {limit} ran out")
            if self._batches >= limit:
                self.gen += 1
                await self._close_slot()
                self.move(S.FAILED, Reason.QR_LIMIT, f"{limit} QR batches were not scanned")
                self._error(
                    Reason.QR_LIMIT,
                    f"nobody scanned the QR of session {self.session_id} ({limit} batches); "
                    "regenerate the QR when the phone is at hand",
                )
                return
        elif self.state is not S.STARTING:
            return
        if self.slot is not None:
            try:
                await self.slot.page.regenerate_qr()
            except Exception as exc:  # a page that cannot reload is recovered
                await self._recover(Reason.ERROR, f"reloading the QR failed: {exc}")

    async def _on_ready(self, ready: Ready) -> None:
        if self.state not in (S.STARTING, S.QR, S.PAIRING, S.PASSKEY_REQUIRED, S.DISCONNECTED):
            return
        r = self.record
        r.phone = ready.phone or r.phone or str(self.folder.read_meta().get("phone", ""))
        r.platform = ready.platform or r.platform
        r.connected_at = self.host.now()
        # Restored = logged in without a QR since this page was opened.
        restored = not self._qr_shown
        self._qr_shown = False  # a later reconnect of this page is a restore again
        method = r.extraction_method if r.qr else ready.method
        r.extraction_method = method
        r.qr, r.qr_issued_at, r.qr_expires_at = "", None, None
        self._failures = self._batches = 0
        self._restoring = False
        self._restore_retries = 0
        # Snapshot and meta before saying "connected": whoever hears it may rely on
        # the login being on disk (an instance killed right after still restores it).
        # A restored login is on disk already (it was just read from there): writing it
        # back is the most expensive step of a restore (the whole IndexedDB through the
        # DevTools protocol, then to disk), so the periodic snapshot takes what changed.
        try:
            if not restored or not self.folder.has_state():
                await self._write_snapshot()
            else:  # what is on disk is current as of now: the next one is a period away
                self.last_snapshot_at = asyncio.get_running_loop().time()
        except Exception as exc:  # the session runs on; next snapshot retries
            log.warning("session %s: snapshot failed: %s", self.session_id, exc)
        self._pending_meta = dict(
            phone=r.phone,
            platform=r.platform,
            linked=True,
            workspace_id=self.workspace_id,
            label=self.label,
            connected_at=r.connected_at.isoformat(),
            isolation=self.host.settings.isolation,
        )
        await self._write_meta()
        detail = "restored from the saved login" if restored else ""
        if self.disk_full_failures:
            self.move(S.CONNECTED, Reason.DISK_FULL, self._disk_full_detail())
        else:
            self.move(S.CONNECTED, None, detail)
        self.host.emit(
            SessionReady(
                at=r.connected_at,
                session_id=self.session_id,
                workspace_id=self.workspace_id,
                phone_number=r.phone,
                platform=r.platform,
                extraction_method=method,
                restored=restored,
                instance_id=self.host.instance_id,
            )
        )
        if self.window_open:
            await self._leave_window()

    async def _on_logged_out(self, reason: Reason, detail: str) -> None:
        if not can_transition(self.state, S.LOGGED_OUT):
            return
        self.gen += 1
        await self._close_slot()
        await asyncio.to_thread(self.folder.delete_state)
        await asyncio.to_thread(self.folder.update_meta, linked=False)
        self.record.qr = ""
        self.move(S.LOGGED_OUT, reason, detail)

    async def _on_conflict(self) -> None:
        if self.state not in (
            S.CONNECTED,
            S.PAIRING,
            S.PASSKEY_REQUIRED,
            S.STARTING,
            S.DISCONNECTED,
        ):
            return
        self.gen += 1
        await self._close_slot()
        self.move(
            S.DISCONNECTED,
            Reason.CONFLICT,
            "WhatsApp was opened in another browser; reconnect to take the session back",
        )
        self.reason = Reason.CONFLICT

    async def _on_navigated(self) -> None:
        if self.slot is None:
            return
        try:
            await self.slot.page.inject(timeout=self.host.policy.timeout * 4)
        except Exception as exc:  # a page that will not boot is recovered
            await self._recover(Reason.ERROR, f"the page reloaded and did not boot: {exc}")

    # ------------------------------------------------------------ persistence

    async def snapshot(self) -> bool:
        """Save the storage state (IndexedDB included) if connected and changed."""
        if self.state is not S.CONNECTED:
            return False
        return await self._write_snapshot()

    async def _write_snapshot(self) -> bool:
        """Write a snapshot. A full disk is not an error of the session: it runs on
        its last good snapshot, says `disk_full`, and the heartbeat retries with
        backoff (worker.py) until a write succeeds."""
        slot = self.slot
        if slot is None:
            return False
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(60):
            state = await slot.context.storage_state(indexed_db=True)
        self.last_snapshot_at = loop.time()
        self.host.snapshot_budget.record(
            self.session_id, self.last_snapshot_at - started, ended_at=self.last_snapshot_at
        )
        try:
            written = await asyncio.to_thread(self.folder.save_state, cast(dict[str, Any], state))
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self._on_disk_full(exc)
            return False
        if self._pending_meta:
            await self._write_meta()
        if self.disk_full_failures and not self._pending_meta:
            self._on_disk_back()
        return written

    async def _write_meta(self) -> None:
        try:
            await asyncio.to_thread(self.folder.update_meta, **self._pending_meta)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self._on_disk_full(exc)
        else:
            self._pending_meta = {}

    def _disk_full_detail(self) -> str:
        return (
            f"the disk of the sessions folder ({self.host.settings.sessions_dir}) is full: "
            "this session runs on its last saved login and its newest login state is not "
            "saved (a restart would need a new QR if it had none). Free some space; pairdesk "
            "saves it by itself once there is room"
        )

    def _on_disk_full(self, exc: OSError) -> None:
        self.disk_full_failures += 1
        if self.disk_full_failures > 1:
            return  # said once per episode; the retries go on quietly
        log.warning("session %s: snapshot not saved, disk full (%s)", self.session_id, exc)
        if self.state is S.CONNECTED:
            self.reason = Reason.DISK_FULL
        self._error(Reason.DISK_FULL, f"session {self.session_id}: {self._disk_full_detail()}")

    def _on_disk_back(self) -> None:
        log.info(
            "session %s: login state saved again after %d failed attempt(s) (disk full)",
            self.session_id,
            self.disk_full_failures,
        )
        self.disk_full_failures = 0
        if self.reason is Reason.DISK_FULL:
            self.reason = None

    # -------------------------------------------------------------- operator

    async def stop(self, reason: Reason) -> None:
        """Snapshot if connected, close the page, `stopped`, release the folder lock."""
        await self.cancel_tasks()
        if self.state is S.CONNECTED:
            try:
                await self.snapshot()
            except Exception as exc:  # stopping must not fail on it
                log.warning("session %s: final snapshot failed: %s", self.session_id, exc)
        self.gen += 1
        await self._close_slot()
        self.move(S.STOPPED, reason)
        self.folder.unlock()
        for waiter in self._qr_waiters:
            waiter.cancel()
        self._qr_waiters = []

    async def logout(self) -> None:
        """Unlink the device in the page (Socket.logout), then forget the login locally."""
        if self.slot is not None and self.state in (S.CONNECTED, S.DISCONNECTED, S.STARTING):
            self._logout_seen.clear()
            await self.slot.page.logout()
            # Let the page tell the server before its context is closed.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self._logout_seen.wait()
        if can_transition(self.state, S.LOGGED_OUT):
            await self._on_logged_out(Reason.USER_INITIATED, "logged out by the operator")
        else:
            self.gen += 1
            await self._close_slot()
            await asyncio.to_thread(self.folder.delete_state)
            self.move(S.STOPPED, Reason.USER_INITIATED, "logged out by the operator")

    def expect_qr(self) -> asyncio.Future[QrIssued]:
        waiter: asyncio.Future[QrIssued] = asyncio.get_running_loop().create_future()
        self._qr_waiters.append(waiter)
        return waiter

    async def regenerate_qr(self) -> None:
        """Reload the QR now (counts as a new first batch); restarts a parked session.
        From the pairing-code screen it is the way back to the QR."""
        self._batches = 0
        self._regen_next = True
        self.linking.end()
        if self.state in (S.QR, S.QR_IDLE) and self.slot is not None:
            await self.slot.page.regenerate_qr()
        elif self.state in (S.CONNECTED, S.PAIRING):
            raise ConflictError(
                f"session {self.session_id} is {self.state.value}; there is no QR to regenerate "
                "(log it out first to link another phone)"
            )
        elif self.state is not S.STARTING:
            self._failures = 0
            await self.start(Reason.USER_INITIATED, fresh=True)

    async def restart(self) -> None:
        """Close the page and reopen from the snapshot (also an explicit take-over)."""
        self._failures = 0
        await self.start(Reason.USER_INITIATED)
