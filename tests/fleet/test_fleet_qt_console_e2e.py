"""The Qt console attached to a fleet, through the run path of `pairdesk gui --fleet URL`.

A real member (process, Chromium) holds one session; `app.cli.main(["gui",
"--fleet", URL])` opens the real window (offscreen) on a `FleetEngine`. While it
runs, the grid must show the session (owned by the member) and the instances
view the member; then the window is closed as an operator would, and the
session is still held by the member.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from sqlalchemy import Engine

from app.cli import main
from app.fleet.leases import LeaseStore
from app.sandbox import SandboxOptions, SandboxServer
from app.ui.main_window import MainWindow
from app.ui.session_row import ID_ROLE
from tests.fleet.conftest import GRACE, TTL, add_accounts
from tests.fleet.fleet_support import TOKEN, client, start_member

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.timeout(300),
    # The offscreen platform warns about window size hints it cannot pass on; harmless.
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

T = TypeVar("T")
GUARD_S = 90  # a failure guard only: the checks pass as soon as the window shows both


async def _owned(leases: LeaseStore, sid: str, owner: str) -> None:
    async with asyncio.timeout(60):
        while [o for s, o, _, _ in leases.leases() if s == sid] != [owner]:
            await asyncio.sleep(0.2)


def _window() -> MainWindow | None:
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)


def _grid_ids(window: MainWindow) -> list[str]:
    proxy = window.grid.proxy
    return [str(proxy.index(r, 0).data(ID_ROLE)) for r in range(proxy.rowCount())]


def _run_console_checking(fleet_url: str, sid: str) -> dict[str, object]:
    """Run `pairdesk gui --fleet URL` until the window shows the session and the
    member (or the guard runs out), then close it; returns what it saw."""
    seen: dict[str, object] = {
        "grid": [], "row_instance": "", "cards": [], "member": None, "card": "", "engine_error": ""
    }  # fmt: skip
    elapsed = [0.0]

    def look() -> None:
        window = _window()
        elapsed[0] += 0.25
        if window is not None:
            grid = seen["grid"] = _grid_ids(window)
            row = window.sessions.row_for(sid)
            seen["row_instance"] = row.instance if row is not None else ""
            cards = seen["cards"] = sorted(window.instances_view.cards())
            seen["member"] = window.instances.info_for("m1")
            card = window.instances_view.cards().get("m1")
            if card is not None:
                seen["card"] = " | ".join(
                    w.text() for w in (card.title, card.status, card.capacity_label, card.meta)
                )
            seen["engine_error"] = window._engine_error
            done = sid in grid and seen["row_instance"] == "m1" and "m1" in cards
            if done:
                window.show_view(2)  # the instances view, as an operator would open it
                QApplication.processEvents()
        else:
            done = False
        if done or elapsed[0] > GUARD_S:
            timer.stop()
            if window is not None:
                window.close()
            else:
                QApplication.quit()

    app = QApplication.instance() or QApplication([])
    timer = QTimer(app)
    timer.setInterval(250)
    timer.timeout.connect(look)
    timer.start()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        seen["code"] = main(["gui", "--fleet", fleet_url, "--view", "grid"])
    finally:
        timer.stop()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return seen


@pytest.fixture
def side_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop on a thread of its own for the member and the sandbox: Qt needs
    the main thread for the console."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="member loop", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_the_qt_console_attached_to_a_fleet_shows_its_session_and_member(
    qtbot: object,
    tmp_path: Path,
    fleet_url: str,
    fleet_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    side_loop: asyncio.AbstractEventLoop,
) -> None:
    def on_side(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, side_loop).result(120)

    for name in [n for n in os.environ if n.startswith("PAIRDESK_")]:
        monkeypatch.delenv(name)
    console_dir = tmp_path / "console"
    console_dir.mkdir()
    monkeypatch.chdir(console_dir)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(console_dir / "config"))
    monkeypatch.setenv("PAIRDESK_INSTANCE_TOKEN", TOKEN)
    monkeypatch.setenv("PAIRDESK_DATA_DIR", str(console_dir / "data"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    leases = LeaseStore(fleet_engine, ttl=TTL, grace=GRACE)
    with SandboxServer(SandboxOptions(time_scale=0.2, boot_delay=0.1)) as sandbox:
        member = on_side(start_member(tmp_path, "m1", fleet_url=fleet_url, sandbox_url=sandbox.url))
        try:
            (sid,) = add_accounts(fleet_engine, 1, prefix="qt")
            on_side(_owned(leases, sid, "m1"))
            seen = _run_console_checking(fleet_url, sid)
            assert seen["code"] == 0
            assert sid in seen["grid"], seen  # type: ignore[operator]
            assert seen["row_instance"] == "m1", seen
            assert seen["cards"] == ["m1"], seen
            info = seen["member"]
            assert info is not None and info.url == member.url and info.alive, seen  # type: ignore[attr-defined]
            assert info.sessions_total == 1, seen  # type: ignore[attr-defined]
            assert str(seen["card"]).startswith("m1 | "), seen
            assert seen["engine_error"] == "", seen
            # Closing the console changed nothing for the session.
            assert [o for s, o, _, _ in leases.leases() if s == sid] == ["m1"]
            on_side(_status_ok(member.url, sid))
        finally:
            member.kill_everything()
            on_side(member.proc.wait())


async def _status_ok(url: str, sid: str) -> None:
    async with client(url) as c:
        assert (await c.get(f"api/sessions/{sid}/status")).status_code == 200
