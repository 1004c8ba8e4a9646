"""A session's gates: everything the real site may ask besides a QR scan.

`GateFlow` is the part of a session (`flow.Session` extends it) that deals
with the gates of docs/SESSIONS.md:

- link with phone number: a pairing code on request, renewed while unpaired
  (`linking.PhoneLinking`), the QR's events and batches set aside meanwhile;
- the passkey: the page asking the browser for the account's passkey is
  `passkey_required`; `open_window` moves the page (its login, keys included)
  into a headed window on the operator's screen, where the customer confirms
  with their phone; once linked the session goes back to a headless page from
  the snapshot, and a window closed early brings the same unlinked page back;
- a terminal socket state (a block, an outdated version) is `failed` with its
  own reason, the page closed and nothing retried;
- a proxy that refuses or does not answer is `failed(proxy_unreachable)`.

It also holds the plumbing these share with the rest of the flow (closing
the page, loading the snapshot, the session's `SessionError`s).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any, cast

from app.domain.events import PairingCodeIssued, SessionError
from app.domain.models import SessionInfo
from app.domain.proxy import Proxy
from app.domain.states import TERMINAL_SOCKET_STATES, Reason, SessionState, can_transition
from app.engine.browser.proxy import proxy_failure
from app.engine.browser.signals import Passkey
from app.engine.errors import Conflict as ConflictError
from app.engine.errors import StateCorrupt
from app.engine.session.folder import LoadedState
from app.engine.session.linking import PhoneLinking
from app.engine.session.worker import HostServices, SessionCore, log
from app.operator.text import reason_message

S = SessionState


class GateFlow(SessionCore):
    """The gates' rules of one session (see the module docstring)."""

    def __init__(
        self,
        host: HostServices,
        *,
        session_id: str,
        workspace_id: int,
        label: str,
        proxy: Proxy | None = None,
    ) -> None:
        super().__init__(host, session_id=session_id, workspace_id=workspace_id, label=label)
        self.proxy = proxy
        self.linking = PhoneLinking(time_scale=host.settings.time_scale, post=self.post)
        # While the passkey is finished in a window: the unlinked login (its keys), so the
        # page that comes back when the window closes is the same account to the phone.
        self._carried: dict[str, Any] | None = None
        # Set while the page linked in the window comes back headless: until it says
        # CONNECTED, its socket's OPENING is the new page starting, not a lost link.
        self._leaving_window = False

    async def _recover(self, reason: Reason, detail: str) -> None:  # in flow.Session
        raise NotImplementedError

    def info(self) -> SessionInfo:
        base = super().info()
        code = self.linking.active and self.state.waiting_for_scan
        return dataclasses.replace(
            base,
            qr="" if code else base.qr,
            pairing_code=self.linking.code if code else "",
            pairing_phone=self.linking.phone if code else "",
            pairing_code_expires_at=self.linking.expires_at if code else None,
            proxy=self.proxy.display if self.proxy is not None else "",
        )

    def move(self, target: SessionState, reason: Reason | None = None, detail: str = "") -> None:
        super().move(target, reason, detail)
        if not target.waiting_for_scan:
            self.linking.end()  # linked, parked or reopening: the code is void

    @property
    def window_open(self) -> bool:
        return self.slot is not None and self.slot.window

    def _error(self, code: Reason, message: str) -> None:
        self.host.emit(
            SessionError(
                at=self.host.now(),
                session_id=self.session_id,
                workspace_id=self.workspace_id,
                error=code.value,
                message=message,
                instance_id=self.host.instance_id,
            )
        )

    async def _close_slot(self) -> None:
        slot, self.slot = self.slot, None
        self.host.snapshot_budget.forget(self.session_id)
        if slot is not None:
            await slot.close()

    async def _proxy_failed(self, exc: BaseException) -> bool:
        """Park the session as `proxy_unreachable` if its proxy made opening fail: retrying
        through a dead proxy would only end in a QR nobody sees."""
        why = await proxy_failure(exc, self.proxy, target=self.host.provider_url)
        if not why:
            return False
        self.gen += 1
        await self._close_slot()
        if not can_transition(self.state, S.FAILED):
            self.move(S.STARTING, Reason.PROXY_UNREACHABLE)
        self.move(
            S.FAILED, Reason.PROXY_UNREACHABLE, f"{why}. {reason_message(Reason.PROXY_UNREACHABLE)}"
        )
        return True

    async def _load(self) -> LoadedState | None:
        if not self.folder.has_state():
            return None  # the common "new account" case: no thread hop on the warm path
        return await asyncio.to_thread(self.folder.load_state)

    # ------------------------------------------------------------------ gates

    def _on_passkey(self, sig: Passkey) -> None:
        if sig.phase != "asked":
            log.info("session %s: passkey request %s %s", self.session_id, sig.phase, sig.detail)
            return
        if self.state in (S.STARTING, S.QR, S.QR_IDLE, S.PAIRING, S.DISCONNECTED):
            reason = Reason.PASSKEY_REQUIRED
            self.move(S.PASSKEY_REQUIRED, reason, reason_message(reason))

    async def _on_blocked(self, socket_state: str) -> None:
        """A terminal socket state: park the session with its reason, and never retry."""
        reason = TERMINAL_SOCKET_STATES[socket_state]
        if not self.state.running:
            return
        self.gen += 1
        await self._close_slot()
        self.move(S.FAILED, reason, reason_message(reason))

    async def open_window(self) -> None:
        """Show the session's page in a window on the operator's screen, where the
        customer's passkey can be confirmed (a headless page has no one to ask)."""
        if self.state is not S.PASSKEY_REQUIRED:
            raise ConflictError(
                f"session {self.session_id} is {self.state.value}; only a session waiting "
                "for its passkey is opened in a window"
            )
        if self.slot is not None and self.slot.window:
            with contextlib.suppress(Exception):
                await self.slot.page.page.bring_to_front()
            return
        state = self._carried
        if self.slot is not None:
            async with asyncio.timeout(60):
                state = cast(dict[str, Any], await self.slot.context.storage_state(indexed_db=True))
        self._carried = state
        self.gen += 1
        await self._close_slot()
        try:
            self.slot = await self.host.open_window_slot(
                state, self.sink_for(self.gen), proxy=self.proxy
            )
        except Exception:
            await self._reopen_headless(state)  # no window: the page comes back where it was
            raise

    async def _reopen_headless(self, state: dict[str, Any] | None) -> None:
        self.gen += 1
        await self._close_slot()
        try:
            self.slot = await self.host.open_slot(
                self.folder, state, self.sink_for(self.gen), proxy=self.proxy
            )
        except Exception as exc:
            if not await self._proxy_failed(exc):
                await self._recover(Reason.ERROR, f"reopening the page failed: {exc}")

    async def _on_window_closed(self) -> None:
        """The operator closed the window before the passkey was confirmed: the page comes
        back headless with the same keys, where the phone's link still waits for it."""
        log.info("session %s: the window was closed; reopening the page", self.session_id)
        await self._reopen_headless(self._carried)

    async def _leave_window(self) -> None:
        """Linked in the window: continue headless from the snapshot just written, without
        another state change (the restored page logs in as the session already is)."""
        self._carried = None
        self._leaving_window = True
        try:
            loaded = await self._load()
        except StateCorrupt as exc:
            loaded = None
            log.warning("session %s: %s", self.session_id, exc.message)
        await self._reopen_headless(loaded.state if loaded is not None else None)

    async def request_pairing_code(self, phone: str) -> PairingCodeIssued:
        """Switch the page to "link with phone number" for `phone` and return the first
        code (more follow as events, every 180 s scaled, until the account links)."""
        if self.state not in (S.QR, S.QR_IDLE) or self.slot is None:
            raise ConflictError(
                f"session {self.session_id} is {self.state.value}; a pairing code is given "
                "only while the account waits to be linked"
            )
        self.linking.begin(phone)
        return await self._issue_code()

    async def _issue_code(self) -> PairingCodeIssued:
        assert self.slot is not None
        code = await self.slot.page.request_pairing_code(self.linking.phone)
        event = self.linking.issued(
            code,
            at=self.host.now(),
            session_id=self.session_id,
            workspace_id=self.workspace_id,
            instance_id=self.host.instance_id,
            renew=self._renew_code,
        )
        self.host.emit(event)
        return event

    async def _renew_code(self) -> None:
        if not self.linking.active or not self.state.waiting_for_scan or self.slot is None:
            return
        limit = self.host.settings.qr_limit
        if self.linking.count >= limit:
            self.gen += 1
            await self._close_slot()
            self.move(S.FAILED, Reason.QR_LIMIT, f"{limit} pairing codes were not used")
            self._error(
                Reason.QR_LIMIT,
                f"nobody typed the pairing code of session {self.session_id} ({limit} codes); "
                "ask for a new code when the customer is on the phone",
            )
            return
        try:
            await self._issue_code()
        except Exception as exc:  # a page that cannot give a code is reopened
            await self._recover(Reason.ERROR, f"renewing the pairing code failed: {exc}")
