"""The design pairdesk replaces, rebuilt for a side-by-side measurement.

whatsapp-web.js with LocalAuth gives every account its own persistent
Chromium profile (`session-{clientId}`) and launches that browser when the
account is added: launch, open the login page, wait for the page to boot
(`window.Debug.VERSION`), read the QR from the page's modules and push every
new one to the host. `ReplacedDesign` does exactly that with Playwright's
`launch_persistent_context`, against the same sandbox and with the same
Chromium and flags as pairdesk, so the two can be compared in one run.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from app.bench._harness import pss_of
from app.bench._stand_in import StandInEngine
from app.domain.events import EngineEvent, QrIssued, SessionStateChanged
from app.domain.models import AccountSpec, SessionInfo
from app.domain.states import SessionState
from app.engine.api import Engine

__all__ = ["ProfileSession", "ReplacedDesign", "ReplacedEngine", "phone_number"]

# Subscribe to the login ref the way the replaced system does: build the QR
# string from the page's modules and push it, and every later one, to the host.
_QR_HOOK = """
async () => {
  const r = (name) => window.require(name);
  const noise = await r('WAWebCompanionRegClientUtils').waNoiseInfo.get();
  const reg = await r('WAWebSignalStoreApi').waSignalStore.getRegistrationInfo();
  const adv = await r('WAWebUserPrefsMultiDevice').getADVSecretKey();
  const b64 = r('WABase64').encodeB64;
  const platform = r('WAWebCompanionRegClientUtils').DEVICE_PLATFORM;
  const tail = [b64(noise.staticKeyPair.pubKey), b64(reg.identityKeyPair.pubKey), adv, platform];
  const push = (ref) => { if (ref) window.__benchQr([ref, ...tail].join(',')); };
  const conn = r('WAWebConnModel').Conn;
  conn.on('change:ref', (_model, ref) => push(ref));
  push(conn.ref);
}
"""

_LOGGED_IN = "#pane-side"


def phone_number(index: int) -> str:
    """A distinct E.164-looking test number per session."""
    return f"62812{index:07d}"


@dataclass
class ProfileSession:
    """One account of the replaced design: its own browser, profile folder and page."""

    client_id: str
    folder: Path
    context: Any = None
    page: Any = None
    qrs: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    last_qr: str = ""
    add_to_qr_ms: float = 0.0
    browser_pid: int = 0
    listener: Callable[[ProfileSession, str], None] | None = None

    def on_qr(self, _source: Any, qr: object) -> None:
        self.last_qr = str(qr)
        self.qrs.put_nowait(self.last_qr)
        if self.listener is not None:
            self.listener(self, self.last_qr)


class ReplacedDesign:
    """Persistent-profile sessions launched on add, as whatsapp-web.js LocalAuth does."""

    def __init__(self, *, playwright: Any, chromium_path: str | None, root: Path, url: str):
        from app.engine.chromium import CHROMIUM_FLAGS

        self._pw = playwright
        self._chromium = chromium_path
        self._flags = list(CHROMIUM_FLAGS)
        self._root = root
        self._url = url
        self.sessions: list[ProfileSession] = []

    async def add(
        self,
        client_id: str,
        *,
        timeout: float = 60.0,
        listener: Callable[[ProfileSession, str], None] | None = None,
    ) -> ProfileSession:
        """Launch the account's browser and wait for its first QR; times add -> QR.

        `listener(session, qr)` is called, in the host, with every QR as it arrives."""
        folder = self._root / f"session-{client_id}"
        folder.mkdir(parents=True, exist_ok=True)
        session = ProfileSession(client_id=client_id, folder=folder, listener=listener)
        before = _browser_pids(folder)
        started = time.perf_counter()
        async with asyncio.timeout(timeout):
            session.context = await self._pw.chromium.launch_persistent_context(
                str(folder),
                headless=True,
                executable_path=self._chromium,
                args=self._flags,
            )
            self.sessions.append(session)
            pages = session.context.pages
            session.page = pages[0] if pages else await session.context.new_page()
            await session.page.expose_binding("__benchQr", session.on_qr)
            await session.page.goto(self._url, wait_until="commit")
            await session.page.wait_for_function("() => !!(window.Debug && window.Debug.VERSION)")
            await session.page.evaluate(_QR_HOOK)
            await session.qrs.get()
        session.add_to_qr_ms = (time.perf_counter() - started) * 1000
        pids = _browser_pids(folder) - before
        session.browser_pid = min(pids) if pids else 0
        return session

    async def connect(self, session: ProfileSession, phone: Any, number: str) -> None:
        """Scan the session's current QR with the test phone and wait until logged in."""
        await phone.scan(session.last_qr, number)
        await session.page.wait_for_selector(_LOGGED_IN, state="attached", timeout=60_000)

    def memory(self) -> dict[str, int]:
        """PSS of every session's browser tree, summed."""
        procs: list[psutil.Process] = []
        browsers = 0
        for session in self.sessions:
            if not session.browser_pid:
                continue
            try:
                root = psutil.Process(session.browser_pid)
                procs += [root, *root.children(recursive=True)]
                browsers += 1
            except psutil.Error:
                continue
        pss, count = pss_of(procs)
        return {"pss_bytes": pss, "processes": count, "browsers": browsers}

    async def close(self, session: ProfileSession) -> None:
        """Close one account's browser (its profile folder stays, as LocalAuth's does)."""
        if session in self.sessions:
            self.sessions.remove(session)
        if session.context is not None:
            try:
                async with asyncio.timeout(20):
                    await session.context.close()
            except Exception:  # a dead browser is already closed
                pass

    async def aclose(self) -> None:
        for session in list(self.sessions):
            await self.close(session)
        shutil.rmtree(self._root, ignore_errors=True)


class ReplacedEngine(StandInEngine):
    """The replaced design behind the console's engine surface, so its QRs reach the
    same QR wall through the same `EngineHost` as pairdesk's (qr-latency).

    `add_accounts` launches one persistent profile per account and publishes a
    `QrIssued` the moment the host has the QR; `stop_session` closes the browser.
    """

    def __init__(self, *, chromium_path: str | None, root: Path, url: str) -> None:
        self._args = {"chromium_path": chromium_path, "root": root, "url": url}
        self._queue: asyncio.Queue[EngineEvent | None] = asyncio.Queue()
        self._pw_cm: Any = None
        self._design: ReplacedDesign | None = None
        self._sessions: dict[str, tuple[ProfileSession, int]] = {}
        # Accounts whose browser is still being added: their QR can be on screen (and a
        # stop asked for) before `add` returns, while it looks up the browser's pid.
        self._adding: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        from playwright.async_api import async_playwright

        self._pw_cm = async_playwright()
        playwright = await self._pw_cm.start()
        self._design = ReplacedDesign(playwright=playwright, **self._args)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        if self._design is not None:
            await self._design.aclose()
        if self._pw_cm is not None:
            await self._pw_cm.__aexit__(None, None, None)
        self._queue.put_nowait(None)

    async def subscribe(self) -> AsyncIterator[EngineEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        """Launch each account's browser now (the replaced design has no `start=False`)."""
        assert self._design is not None, "start() first"
        out = []
        for spec in specs:
            sid = f"replaced_{spec.workspace_id}_{len(self._sessions)}"
            publish = self._publisher(sid, spec.workspace_id)
            added = self._adding[sid] = asyncio.Event()
            try:
                session = await self._design.add(sid, listener=publish)
                self._sessions[sid] = (session, spec.workspace_id)
            finally:
                del self._adding[sid]
                added.set()
            out.append(SessionInfo(session_id=sid, workspace_id=spec.workspace_id))
        return out

    def _publisher(self, sid: str, workspace_id: int) -> Callable[[ProfileSession, str], None]:
        count = 0

        def publish(_session: ProfileSession, qr: str) -> None:
            nonlocal count
            count += 1
            now = datetime.now(UTC)
            self._queue.put_nowait(
                QrIssued(
                    session_id=sid,
                    workspace_id=workspace_id,
                    qr=qr,
                    at=now,
                    expires_at=now + timedelta(seconds=60),
                    qr_count=count,
                )
            )

        return publish

    async def stop_session(self, session_id: str) -> None:
        if (adding := self._adding.get(session_id)) is not None:
            await adding.wait()  # stopped while its add was still finishing
        session, ws = self._sessions.pop(session_id)
        assert self._design is not None
        await self._design.close(session)
        self._queue.put_nowait(
            SessionStateChanged(session_id=session_id, workspace_id=ws, state=SessionState.STOPPED)
        )


def _is_an_engine(engine: ReplacedEngine) -> Engine:
    return engine  # mypy checks here that ReplacedEngine satisfies the Engine Protocol


def _browser_pids(folder: Path) -> set[int]:
    """Pids of Chromium main processes using this profile folder (from our own tree)."""
    marker = f"--user-data-dir={folder}"
    found: set[int] = set()
    me = psutil.Process()
    for proc in me.children(recursive=True):
        try:
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        if marker in cmdline and not any(a.startswith("--type=") for a in cmdline):
            found.add(proc.pid)
    return found
