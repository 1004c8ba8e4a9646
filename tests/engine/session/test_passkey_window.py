"""The passkey gate with real Chromium: the page asking for the account's passkey is
`passkey_required`; "open in a window" shows the session's page in a headed Chromium
on a display (an Xvfb of the test's own), where the phone's passkey (a virtual
authenticator holding the test phone's credential) finishes the link; the session then
goes on headless, and a window closed early brings the same unlinked page back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.domain.events import SessionReady, SessionStateChanged
from app.domain.states import Reason, SessionState
from app.engine.errors import Conflict
from app.operator.text import reason_message
from tests.engine.gate_support import PhoneInWindowLauncher, xvfb
from tests.engine.session_support import World, world

pytestmark = pytest.mark.e2e
S = SessionState
PHONE = "6281234567890"


async def _waiting_for_passkey(w: World, **host: Any) -> Any:
    passkey = await w.phone.passkey(PHONE)
    launcher = None

    def make(settings: Any) -> PhoneInWindowLauncher:
        nonlocal launcher
        launcher = PhoneInWindowLauncher(settings, passkey=passkey, rp_id="localhost")
        return launcher

    # Passkeys need a host name (not an IP address): the page is opened as localhost.
    url = w.sandbox.url.replace("127.0.0.1", "localhost")
    h = await w.host(provider_url=url, launcher=make, **host)
    await h.start_session(session_id="s1", workspace_id=1)
    await w.scan("s1", PHONE)
    required = await w.recorder.wait_state("s1", S.PASSKEY_REQUIRED)
    assert launcher is not None
    return h, launcher, required


def _headed_browsers() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            argv = child.cmdline()
        except psutil.Error:
            continue
        if "--remote-debugging-pipe" in argv and not any(a.startswith("--type=") for a in argv):
            if "--headless" not in " ".join(argv):
                found.append(child)
    return found


async def test_passkey_is_finished_in_a_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        async with world(tmp_path) as w:
            await w.phone.set_faults(passkey=PHONE)
            host, launcher, required = await _waiting_for_passkey(w)
            assert required.reason is Reason.PASSKEY_REQUIRED
            assert required.detail == reason_message(Reason.PASSKEY_REQUIRED)
            assert required.previous is S.PAIRING
            assert not host.session("s1").phone_number, "not linked yet"
            assert (await w.phone.stats())["linked_devices"] == []
            mark = len(w.recorder.events)
            started = time.perf_counter()
            await host.open_window("s1")
            opened = time.perf_counter() - started
            assert len(launcher.browsers) == 1 and launcher.browsers[0].windows
            assert _headed_browsers(), "a Chromium with windows runs on the display"
            ready = await w.recorder.wait_for(
                SessionReady, lambda e: e.session_id == "s1", start=mark
            )
            assert ready.phone_number == PHONE and not ready.restored
            linked = time.perf_counter() - started
            print(
                f"\nwindow open in {opened:.2f} s, passkey confirmed and linked at {linked:.2f} s"
            )
            assert host.session("s1").state is S.CONNECTED
            stats = await w.phone.stats()
            assert stats["passkeys"]["confirmed"] == 1
            assert [d["phone"] for d in stats["linked_devices"]] == [PHONE]
            # Linked: the window closes and the session goes on headless, without a flap.
            session = host._sessions["s1"]
            await asyncio.wait_for(
                _until(lambda: session.slot is not None and not session.slot.window), 60
            )
            after = [
                e.state for e in w.recorder.events[mark:] if isinstance(e, SessionStateChanged)
            ]
            assert after == [S.CONNECTED]
            await asyncio.wait_for(_until(lambda: not _headed_browsers()), 30)
            assert (await w.phone.stats())["live_connections"][f"{PHONE}:1"] == 1


async def test_a_window_closed_early_brings_the_page_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        async with world(tmp_path) as w:
            await w.phone.set_faults(passkey=PHONE)
            host, launcher, _ = await _waiting_for_passkey(w)
            # Pretend the customer is not ready: their phone has no passkey in the window.
            launcher.rp_id = "elsewhere.example"
            await host.open_window("s1")
            window = host._sessions["s1"].slot
            assert window is not None and window.window
            await window.page.page.close()  # the operator closes the window
            session = host._sessions["s1"]
            await asyncio.wait_for(
                _until(lambda: session.slot is not None and not session.slot.window), 60
            )
            assert host.session("s1").state is S.PASSKEY_REQUIRED
            # The same keys came back: the phone's link still waits for this account.
            assert (await w.phone.stats())["passkeys"]["waiting"] == 1


async def test_no_display_is_a_clear_error_and_the_page_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    async with world(tmp_path) as w:
        await w.phone.set_faults(passkey=PHONE)
        host, _launcher, _ = await _waiting_for_passkey(w)
        with pytest.raises(Exception, match="DISPLAY is not set"):
            await host.open_window("s1")
        session = host._sessions["s1"]
        assert session.slot is not None and not session.slot.window
        assert host.session("s1").state is S.PASSKEY_REQUIRED


async def test_only_a_session_waiting_for_its_passkey_opens_a_window(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        with pytest.raises(Conflict, match="passkey"):
            await host.open_window("s1")


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.05)
