"""The engine's public API: the only engine module the console may import.

`Engine` is what the console, the CLI (`serve`, `onboard`) and the benchmark
drive. The composition root's `app.bootstrap.open_engine(settings)` builds the
real one (supervisor + instance processes, plus the embedded sandbox and
reference central API in sandbox mode) and hands it to the console; tests of
the console use a fake that satisfies the same Protocol.

Usage, on the engine's own asyncio loop::

    engine = open_engine(settings)       # no I/O yet
    await engine.start()                 # sandbox, store, instances up
    events = engine.subscribe()          # subscribe before acting, miss nothing
    await engine.add_accounts([AccountSpec(workspace_id=7, label="Front desk")])
    async for event in events: ...       # QrIssued, SessionStateChanged, ...
    await engine.aclose()                # every instance and Chromium stopped

Every failure an operator can meet raises `EngineError` with a message that
says what happened and what to do; nothing else escapes these methods.
Operations on one session are serialised (a stop never overtakes the start
before it); operations on different sessions run concurrently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from app.domain.events import EngineEvent
from app.domain.models import AccountSpec, InstanceInfo, SessionInfo, TimelineEntry
from app.domain.outbox import OutboxItem
from app.engine.doctor import CheckResult as DoctorCheck
from app.engine.errors import EngineError
from app.engine.wire import MAX_WARM_UP_PAGES, WARM_UP_SECONDS

__all__ = [
    "AccountSpec",
    "DoctorCheck",
    "Engine",
    "EngineError",
    "InstanceInfo",
    "MAX_WARM_UP_PAGES",
    "OutboxItem",
    "SessionInfo",
    "TimelineEntry",
    "WARM_UP_SECONDS",
]


class Engine(Protocol):
    async def start(self) -> None:
        """Start the services and instances; sessions assigned to them come back by themselves."""

    async def aclose(self) -> None:
        """Snapshot and stop every session, every instance and every Chromium; end subscriptions."""

    @property
    def provider_url(self) -> str:
        """The login page the sessions open (the sandbox's, in sandbox mode) once started;
        '' before."""
        ...

    @property
    def central_url(self) -> str:
        """Where webhooks go once started ('' when sync is off)."""
        ...

    @property
    def sandbox_url(self) -> str:
        """The embedded sandbox's base URL (test phone: `POST {url}phone/scan`) once
        started in sandbox mode; '' otherwise."""
        ...

    def subscribe(self) -> AsyncIterator[EngineEvent]:
        """Every event from now on, in order (state changes, QRs, heartbeats, instance loads).

        Each subscriber has its own bounded queue (10,000 events); one that falls
        that far behind loses its oldest events, so after a stall re-read
        `list_sessions()`. The iterator ends when the engine closes; call its
        `aclose()` to unsubscribe earlier.
        """
        ...

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        """Create accounts (all or none), place them on instances and start them.

        Session ids are made (`webjs_{ws}_{unix}_{random8}`) where a spec has
        none. Raises `EngineError` before creating anything when the specs are
        invalid or the live instances lack room. A session that then fails to
        start is reported with a `SessionError` event, not an exception; the QR
        of each follows as a `QrIssued` event. Returns once every instance has
        accepted its sessions (about when their first QR is out).

        `start=False` creates and places them without opening a page: for bulk
        onboarding, where each QR should open only when an operator is about to
        scan it (`start_session`), since an unwatched QR costs a renderer and
        the phone user's retries.
        """
        ...

    async def start_session(self, session_id: str) -> None:
        """Open the session on its instance (placing it first if it has none): QR or restore."""

    async def stop_session(self, session_id: str) -> None:
        """Snapshot and close the session; it stays stopped until started again."""

    async def restart_session(self, session_id: str) -> None:
        """Close and reopen the session from its snapshot."""

    async def logout_session(self, session_id: str) -> None:
        """Unlink the device and delete local state; the account stays, logged out."""

    async def regenerate_qr(self, session_id: str) -> None:
        """Show a fresh QR now (the new one arrives as a `QrIssued` event); from the
        pairing-code screen, this is the way back to the QR."""

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        """Link by phone number: the session's page shows an 8-character code for `phone`
        instead of the QR (started first if needed). The code, and a fresh one every 180 s
        while the account stays unpaired, arrive as `PairingCodeIssued` events."""

    async def open_window(self, session_id: str) -> None:
        """Show a session waiting for its passkey (`passkey_required`) in a window on the
        operator's screen, where the customer confirms with their phone."""

    async def set_proxy(self, session_id: str, proxy: str) -> SessionInfo:
        """Give the account its own proxy (a URL; '' for none). A running session uses it
        from its next start or restart. Returns the row, the proxy shown without password."""
        ...

    async def remove_account(self, session_id: str) -> None:
        """Log the session out and delete the account; its row is gone when this returns."""

    async def list_sessions(self) -> list[SessionInfo]:
        """Every account with its live fields (state, QR and expiry while waiting, heartbeat,
        restarts, memory), without a database round trip."""
        ...

    async def list_instances(self) -> list[InstanceInfo]:
        """Every instance slot: alive, pid, URL, CPU%, memory, sessions, restarts."""
        ...

    async def restart_instance(self, instance_id: str) -> None:
        """Stop the instance gracefully and start it again; its sessions come back on it."""

    async def add_instance(self) -> InstanceInfo:
        """Start one more instance; new accounts may be placed on it once it is up."""
        ...

    # -- diagnostics, for the console --

    async def session_timeline(self, session_id: str) -> list[TimelineEntry]:
        """The session's recorded transitions, oldest first (state, reason, time, detail)."""
        ...

    async def list_outbox(self, state: str = "") -> list[OutboxItem]:
        """Sync outbox rows not yet sent, newest first; `state` narrows to 'pending' or 'dead'."""
        ...

    async def retry_outbox(self, event_ids: Sequence[str] = ()) -> int:
        """Requeue dead outbox rows (every dead row when `event_ids` is empty); returns how many."""
        ...

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> None:
        """Keep about `pages` login pages booted across the instances for the next `seconds`
        (a batch of accounts is about to be onboarded: each one's QR then shows the moment
        it is started). Each instance keeps at least its `warm_pool` setting and at most
        `MAX_WARM_UP_PAGES`; `pages=0` ends a warm-up now. A warm-up ends by itself after
        `seconds`, so a console that went away leaves no pages booted for nothing. While
        it lasts the shares follow the instances: one that restarts, comes back or is
        added, and the survivors of one that stays down, are asked again for their share
        for the seconds that remain."""

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        """The last `lines` lines of one instance's log, secrets already redacted."""
        ...

    async def doctor(self) -> list[DoctorCheck]:
        """Run the doctor checks (browser, folders, database, central API) and return them."""
        ...
