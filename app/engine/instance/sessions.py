"""The session operations of one instance, as the HTTP API offers them.

One method per verb, the same word at every layer: `start_session`,
`stop_session`, `restart_session`, `logout_session`, `regenerate_qr`,
`request_pairing_code`, `open_window`, `set_proxy` (plus `add_session`, the
platform's create-and-start, and `warm_up`, which is about no one session). A
session always opens with the account's proxy as the store has it now (read at
each start and restart). Each checks the store's
assignment (a session runs on the instance it is assigned to, nowhere else),
the capacity (`max_sessions`, counting sessions being started), and drives
the SessionHost with a timeout; host failures become `InstanceError`s with a
message for the caller. What a session looks like is the store's row
overlaid with the host's live view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from app.config import Settings
from app.domain.events import (
    EngineEvent,
    PairingCodeIssued,
    QrIssued,
    SessionStateChanged,
    event_from_dict,
)
from app.domain.models import SessionInfo
from app.domain.proxy import InvalidProxy, Proxy
from app.domain.states import Reason, SessionState
from app.engine.errors import (
    BadRequest,
    CapacityFull,
    Conflict,
    InstanceError,
    OperationFailed,
    OperationTimeout,
    Unavailable,
    UnknownSession,
)
from app.engine.instance.hub import EventHub
from app.engine.instance.recorder import EventRecorder
from app.engine.instance.store import InstanceStore
from app.engine.session.folder import SessionFolder

log = logging.getLogger(__name__)

T = TypeVar("T")

# A safety net only: the host bounds each operation itself (a start can wait in
# its admission queue for minutes when hundreds of sessions restore at once).
OPERATION_TIMEOUT = 600.0
QR_WAIT_TIMEOUT = 30.0


class SessionHostLike(Protocol):
    """The part of `SessionHost` (app/engine/session/host.py) the instance drives."""

    async def start(self) -> None: ...

    async def start_session(
        self, *, session_id: str, workspace_id: int, label: str = "", proxy: Proxy | None = None
    ) -> SessionInfo: ...

    async def stop_session(self, session_id: str, *, reason: Reason = ...) -> None: ...

    async def restart_session(self, session_id: str, *, proxy: Proxy | None = None) -> None: ...

    async def request_pairing_code(self, session_id: str, phone: str) -> PairingCodeIssued: ...

    async def open_window(self, session_id: str) -> None: ...

    async def logout_session(self, session_id: str) -> None: ...

    async def regenerate_qr(self, session_id: str, *, wait: bool = True) -> QrIssued | None: ...

    def sessions(self) -> list[SessionInfo]: ...

    def warm_status(self) -> tuple[int, int]: ...

    async def warm_up(self, pages: int, *, seconds: float = ...) -> int: ...

    async def aclose(self) -> None: ...


class SessionOperations:
    """Start, stop, restart, log out and inspect the sessions of one instance."""

    def __init__(
        self,
        *,
        settings: Settings,
        instance_id: str,
        host: SessionHostLike,
        store: InstanceStore,
        hub: EventHub,
        recorder: EventRecorder,
        emit: Callable[[EngineEvent], None],
        status: Callable[[], str],
        owned: set[str],
    ) -> None:
        self.settings = settings
        self.instance_id = instance_id
        self._host = host
        self._store = store
        self._hub = hub
        self._recorder = recorder
        self._emit = emit
        self._status = status
        self._owned = owned
        self._capacity = settings.max_sessions
        self._reserved: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    def live(self) -> dict[str, SessionInfo]:
        return {info.session_id: info for info in self._host.sessions()}

    def _running(self, session_id: str) -> SessionInfo | None:
        info = self.live().get(session_id)
        return info if info is not None and info.state.running else None

    def _check_open(self) -> None:
        status = self._status()
        if status == "starting":
            raise Unavailable(f"{self.instance_id} is still starting; try again in a moment")
        if status in ("stopping", "stopped"):
            raise Unavailable(
                f"{self.instance_id} is shutting down; send the request to the instance that "
                "takes over this session"
            )

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def _stored(self, session_id: str) -> SessionInfo:
        info = await asyncio.to_thread(self._store.get, session_id)
        if info is None:
            raise UnknownSession(session_id)
        if info.instance_id and info.instance_id != self.instance_id:
            raise Conflict(
                f"session {session_id} is assigned to {info.instance_id}, not {self.instance_id}; "
                "send the request there (or move the assignment first)"
            )
        return info

    def _merge(self, stored: SessionInfo | None, live: SessionInfo | None) -> SessionInfo:
        if live is None:
            assert stored is not None
            return stored
        return (stored or live).overlaid(live, instance_id=self.instance_id)

    async def _host_call(self, what: str, session_id: str, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT):
                return await call
        except InstanceError:
            raise
        except TimeoutError:
            raise OperationTimeout(
                f"{what} {session_id} took longer than {OPERATION_TIMEOUT:.0f} s; the instance "
                "may be overloaded. Check GET /health and try again"
            ) from None
        except LookupError:
            raise UnknownSession(session_id) from None
        except Exception as exc:
            log.warning("%s %s failed", what, session_id, exc_info=True)
            raise OperationFailed(f"could not {what} {session_id}: {exc}") from None

    async def _proxy(self, session_id: str) -> Proxy | None:
        """The account's proxy as stored now (with its password, for the browser only)."""
        try:
            return await asyncio.to_thread(self._store.proxy_of, session_id)
        except InvalidProxy as exc:
            raise BadRequest(
                f"the stored proxy of session {session_id} cannot be used ({exc}); set it "
                "again, or remove it, then start the session"
            ) from None

    def _reserve(self, session_id: str) -> None:
        """Take a place for `session_id` or raise CapacityFull. Synchronous on purpose:
        no await between the count and the reservation, so concurrent requests cannot
        both take the last place."""
        # A session being started is both reserved and (once its page is being
        # made) in the host: count each session once, or the last places of an
        # instance are refused while its first sessions boot.
        busy = {i.session_id for i in self._host.sessions() if i.state.running}
        busy |= self._reserved
        busy.discard(session_id)
        if len(busy) >= self._capacity:
            raise CapacityFull(
                f"{self.instance_id} is full ({self._capacity} sessions, max_sessions); "
                "place the session on another instance or raise max_sessions"
            )
        self._reserved.add(session_id)

    async def _start(
        self, session_id: str, workspace_id: int, label: str, *, reserved: bool = False
    ) -> SessionInfo:
        """Start a session unless it already runs, within capacity. `reserved`: the
        caller already holds a place for it (`_reserve`); it is released here."""
        try:
            self._check_open()
            proxy = await self._proxy(session_id)
        except BaseException:
            if reserved:
                self._reserved.discard(session_id)
            raise
        async with self._lock(session_id):
            running = self._running(session_id)
            # A disconnected session may be parked (e.g. CONFLICT): let the host decide.
            if running is not None and running.state is not SessionState.DISCONNECTED:
                if reserved:
                    self._reserved.discard(session_id)
                return running
            if not reserved:
                self._reserve(session_id)
            try:
                return await self._host_call(
                    "start",
                    session_id,
                    self._host.start_session(
                        session_id=session_id, workspace_id=workspace_id, label=label, proxy=proxy
                    ),
                )
            except Conflict:
                live = self.live().get(session_id)
                if live is not None and live.state.running:
                    return live  # already started and active here: nothing to do
                raise
            finally:
                self._reserved.discard(session_id)

    async def add_session(
        self,
        *,
        workspace_id: int,
        session_id: str,
        account_id: int | None,
        label: str,
        proxy: Proxy | None = None,
    ) -> SessionInfo:
        """The platform's `POST /api/sessions`: make (or update) the account, assign it
        here and start it."""
        self._check_open()
        stored = await asyncio.to_thread(self._store.get, session_id)
        if stored is not None and stored.workspace_id != workspace_id:
            raise Conflict(
                f"session {session_id} belongs to workspace {stored.workspace_id}, "
                f"not {workspace_id}; use a new session id for the other workspace"
            )
        if stored is not None and stored.instance_id not in ("", None, self.instance_id):
            raise Conflict(
                f"session {session_id} is assigned to {stored.instance_id}; add it there, "
                "or move the assignment first"
            )
        reserved = False
        if self._running(session_id) is None:
            # Take the place before writing anything: a create refused for capacity
            # must leave no account row behind (issue 10, item 12).
            self._reserve(session_id)
            reserved = True
            try:
                await asyncio.to_thread(
                    self._store.ensure_account,
                    session_id=session_id,
                    workspace_id=workspace_id,
                    account_id=account_id,
                    label=label,
                    instance_id=self.instance_id,
                    proxy=proxy,
                )
            except BaseException:
                self._reserved.discard(session_id)
                raise
            self._owned.add(session_id)
        return await self._start(
            session_id, workspace_id, label or (stored.label if stored else ""), reserved=reserved
        )

    async def list_sessions(self) -> list[SessionInfo]:
        stored = await asyncio.to_thread(self._store.assigned, self.instance_id)
        live = self.live()
        merged = [self._merge(info, live.pop(info.session_id, None)) for info in stored]
        merged.extend(self._merge(None, info) for info in live.values())
        return sorted(merged, key=lambda i: (i.workspace_id, i.session_id))

    async def session_status(self, session_id: str) -> SessionInfo:
        live = self.live().get(session_id)
        stored = await asyncio.to_thread(self._store.get, session_id)
        if live is None and (stored is None or stored.instance_id != self.instance_id):
            raise UnknownSession(session_id)
        return self._merge(stored, live)

    async def start_session(self, session_id: str) -> SessionInfo:
        """Start a session assigned here: from its saved login, else with a QR."""
        stored = await self._stored(session_id)
        self._owned.add(session_id)  # assigned here: its webhooks are this instance's
        return await self._start(session_id, stored.workspace_id, stored.label)

    async def stop_session(self, session_id: str) -> SessionInfo:
        self._check_open()
        stored = await self._stored(session_id)
        if session_id in self.live():
            await self._host_call(
                "stop",
                session_id,
                self._host.stop_session(session_id, reason=Reason.USER_INITIATED),
            )
        elif stored.state is not SessionState.STOPPED:
            self.synthesize(stored, SessionState.STOPPED, "stopped while not running")
        await self._recorder.flush()
        return await self.session_status(session_id)

    async def restart_session(self, session_id: str) -> SessionInfo:
        """Close the page and start again from the saved login (or start it if idle)."""
        self._check_open()
        stored = await self._stored(session_id)
        if self._running(session_id) is None:
            return await self._start(session_id, stored.workspace_id, stored.label)
        proxy = await self._proxy(session_id)
        await self._host_call(
            "restart", session_id, self._host.restart_session(session_id, proxy=proxy)
        )
        return await self.session_status(session_id)

    async def request_pairing_code(self, session_id: str, phone: str) -> PairingCodeIssued:
        """Link by phone number: the page shows a code for `phone` (E.164 digits) instead
        of the QR; a session that is not running is started first. Returns the first code
        (also published as an event, which is how the console receives it)."""
        self._check_open()
        stored = await self._stored(session_id)
        running = self._running(session_id)
        if running is not None and not (
            running.state.waiting_for_scan or running.state is SessionState.STARTING
        ):
            raise Conflict(
                f"session {session_id} is {running.state.value}; a pairing code is given only "
                "while the account waits to be linked (log it out first to link another phone)"
            )
        if running is None:
            await self._start(session_id, stored.workspace_id, stored.label)
        return await self._host_call(
            "get a pairing code for",
            session_id,
            self._host.request_pairing_code(session_id, phone),
        )

    async def open_window(self, session_id: str) -> SessionInfo:
        """Show a session waiting for its passkey in a window on this machine's screen."""
        self._check_open()
        await self._stored(session_id)
        if self._running(session_id) is None:
            raise Conflict(f"session {session_id} is not running; start it first")
        await self._host_call("open a window for", session_id, self._host.open_window(session_id))
        return await self.session_status(session_id)

    async def set_proxy(self, session_id: str, proxy: Proxy | None) -> SessionInfo:
        """Give the account its own proxy (None: none); a running session keeps its
        current one until its next start or restart."""
        await self._stored(session_id)
        await asyncio.to_thread(self._store.set_proxy, session_id, proxy)
        return await self.session_status(session_id)

    async def regenerate_qr(self, session_id: str, *, wait: bool = True) -> QrIssued | None:
        """A fresh QR now. With `wait`, returns it (the platform's call answers with
        it); without, returns once it is asked for, and the QR follows as an event."""
        self._check_open()
        stored = await self._stored(session_id)
        running = self._running(session_id)
        if running is not None:
            if running.state is SessionState.CONNECTED:
                raise Conflict(f"session {session_id} is connected; it needs no QR code")
            return await self._host_call(
                "regenerate the QR of",
                session_id,
                self._host.regenerate_qr(session_id, wait=wait),
            )
        if not wait:
            await self._start(session_id, stored.workspace_id, stored.label)
            return None
        # Not running: start it and answer with its first QR, as the Node.js service did.
        listener = self._hub.listen(types=("qr", "state"))
        try:
            await self._start(session_id, stored.workspace_id, stored.label)
            async with asyncio.timeout(QR_WAIT_TIMEOUT):
                async for item in listener:
                    body = item.body
                    if body.get("session_id") != session_id:
                        continue
                    if item.type == "qr":
                        qr = self._host_qr(session_id, body)
                        if qr is not None:
                            return qr
                    elif body.get("state") == SessionState.CONNECTED.value:
                        raise Conflict(
                            f"session {session_id} logged in from its saved state; "
                            "it needs no QR code"
                        )
        except TimeoutError:
            raise OperationTimeout(
                f"session {session_id} started but showed no QR within {QR_WAIT_TIMEOUT:.0f} s; "
                "check GET /api/sessions/{id}/status and the instance log"
            ) from None
        finally:
            listener.detach()
        raise Unavailable(f"{self.instance_id} is shutting down")

    async def warm_up(self, pages: int, seconds: float) -> tuple[int, int]:
        """Keep about `pages` login pages booted for `seconds` (`SessionHost.warm_up`);
        returns the warm status after it: (pages ready now, pages the pool keeps)."""
        self._check_open()
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT):
                await self._host.warm_up(pages, seconds=seconds)
        except TimeoutError:
            raise OperationTimeout(
                f"warming up {pages} login page(s) took longer than {OPERATION_TIMEOUT:.0f} s; "
                "the instance may be overloaded. Check GET /health and try again"
            ) from None
        except Exception as exc:
            log.warning("warming up %d login page(s) failed", pages, exc_info=True)
            raise OperationFailed(f"could not warm up {pages} login page(s): {exc}") from None
        return self._host.warm_status()

    def _host_qr(self, session_id: str, body: dict[str, Any]) -> QrIssued | None:
        event = event_from_dict(body)
        return event if isinstance(event, QrIssued) else None

    async def logout_session(self, session_id: str) -> SessionInfo:
        """Unlink the device (when running), stop, and delete the local login state."""
        self._check_open()
        stored = await self._stored(session_id)
        async with self._lock(session_id):
            if session_id in self.live():
                await self._host_call("log out", session_id, self._host.logout_session(session_id))
            if session_id in self.live() and self._running(session_id) is not None:
                await self._host_call(
                    "stop",
                    session_id,
                    self._host.stop_session(session_id, reason=Reason.USER_INITIATED),
                )
            folder = SessionFolder(self.settings.sessions_dir, stored.workspace_id, session_id)
            await asyncio.to_thread(folder.remove)
            await self._recorder.flush()
            current = await self.session_status(session_id)
            if current.state.running:
                self.synthesize(current, SessionState.STOPPED, "logged out and removed")
        await self._recorder.flush()
        return await self.session_status(session_id)

    def synthesize(
        self,
        stored: SessionInfo,
        state: SessionState,
        detail: str,
        reason: Reason = Reason.USER_INITIATED,
    ) -> None:
        """Record a state the host cannot report because it does not run the session."""
        self._emit(
            SessionStateChanged(
                session_id=stored.session_id,
                workspace_id=stored.workspace_id,
                state=state,
                previous=stored.state,
                reason=reason,
                detail=detail,
                phone_number=stored.phone_number,
                instance_id=self.instance_id,
            )
        )
