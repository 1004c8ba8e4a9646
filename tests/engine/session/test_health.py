"""Health: heartbeats, and recovery from a crashed renderer, a hung page and a
crashed browser; Chromium never outlives its instance, even after kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from playwright.async_api import Error as PlaywrightError

from app.domain.events import (
    QrIssued,
    SessionError,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
)
from app.domain.states import Reason, SessionState
from tests.engine.session_support import chromium_pids, world

pytestmark = pytest.mark.e2e
S = SessionState
PHONE = "6281234567890"


async def test_heartbeats_carry_latency(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host(heartbeat_interval=0.2)
        await host.start_session(session_id="s1", workspace_id=1)
        beat = await w.recorder.wait_for(SessionHeartbeat, lambda e: e.session_id == "s1")
        assert beat.latency_ms > 0 and beat.instance_id == host.instance_id
        assert host.session("s1").last_heartbeat_at is not None


async def test_renderer_crash_is_recovered_from_the_snapshot(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        slot = host._sessions["s1"].slot
        assert slot is not None
        mark = len(w.recorder.events)
        cdp = await slot.context.new_cdp_session(slot.page.page)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await cdp.send("Page.crash")
        lost = await w.recorder.wait_state("s1", S.DISCONNECTED, start=mark)
        assert lost.reason is Reason.BROWSER_CRASH
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, QrIssued)]
        assert host.session("s1").restarts == 1
        assert (await w.phone.stats())["conflicts_total"] == 0


async def test_a_killed_renderer_process_is_recovered_from_the_snapshot(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        # The renderers of this test's Chromium (one page, plus maybe a spare one).
        renderers = [
            p
            for pid in chromium_pids()
            if "--type=renderer" in " ".join((p := psutil.Process(pid)).cmdline())
        ]
        assert renderers
        mark = len(w.recorder.events)
        for proc in renderers:
            proc.kill()  # SIGKILL, as the kernel's OOM killer would
        lost = await w.recorder.wait_state("s1", S.DISCONNECTED, start=mark)
        assert lost.reason is Reason.BROWSER_CRASH
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored and ready.phone_number == PHONE
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, QrIssued)]
        assert host.browser_launches == 1, "only the renderer died, not the browser"
        assert (await w.phone.stats())["conflicts_total"] == 0


async def test_recovery_gives_up_after_the_retry_budget(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host(retry_budget=2, boot_timeout=3.0)
        await w.connect(host, "s1", PHONE)
        await w.connect(host, "s2", "6289999999999")
        slot = host._sessions["s1"].slot
        assert slot is not None
        await w.phone.set_faults(boot_delay=600)  # no page boots any more
        mark = len(w.recorder.events)
        cdp = await slot.context.new_cdp_session(slot.page.page)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await cdp.send("Page.crash")
        failed = await w.recorder.wait_state("s1", S.FAILED, start=mark)
        assert failed.reason is Reason.BROWSER_CRASH
        error = await w.recorder.wait_for(SessionError, lambda e: e.session_id == "s1")
        assert "reconnect the session" in error.message
        assert host.session("s1").restarts == 2
        assert host.session("s2").state is S.CONNECTED
        # Once the cause is gone, the operator's reconnect brings it back.
        await w.phone.reset_faults()
        mark = len(w.recorder.events)
        await host.start_session(session_id="s1", workspace_id=1)
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored


async def test_hung_page_is_detected_and_recovered(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host(heartbeat_interval=0.3, heartbeat_timeout=3.0)
        await w.connect(host, "s1", PHONE)
        mark = len(w.recorder.events)
        await w.phone.set_faults(hang_pages=PHONE)
        lost = await w.recorder.wait_state("s1", S.DISCONNECTED, start=mark)
        assert lost.reason is Reason.TIMEOUT
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored and host.session("s1").state is S.CONNECTED


async def test_a_page_busy_for_one_ping_timeout_is_not_reopened(tmp_path: Path) -> None:
    # A heavy page on a saturated machine can miss one ping; only a page that misses
    # `hang_after` (2) in a row is hung. Busy for 4 s with pings timing out after 3 s:
    # at most one ping in a row goes unanswered, so the page must stay as it is.
    async with world(tmp_path) as w:
        host = await w.host(heartbeat_interval=0.3, heartbeat_timeout=3.0)
        await w.connect(host, "s1", PHONE)
        slot = host._sessions["s1"].slot
        assert slot is not None
        mark = len(w.recorder.events)
        await slot.page.page.evaluate(
            "() => { setTimeout(() => { const end = Date.now() + 4000;"
            " while (Date.now() < end) {} }, 0); }"
        )
        await asyncio.sleep(4.0)
        beat = await w.recorder.wait_for(
            SessionHeartbeat, lambda e: e.session_id == "s1", start=len(w.recorder.events)
        )
        assert beat.session_id == "s1"
        changes = [e for e in w.recorder.events[mark:] if isinstance(e, SessionStateChanged)]
        assert not changes, changes
        assert host._sessions["s1"].slot is slot  # not reopened


async def test_browser_crash_relaunches_and_recovers_every_session(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host(warm_pool=1)
        await w.connect(host, "a", PHONE)
        await w.connect(host, "b", "6289999999999")
        await host.start_session(session_id="c", workspace_id=1)  # waiting for a scan
        await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "c")
        # The browser process: the Chromium whose parent is the Playwright driver.
        browsers = [
            p
            for pid in chromium_pids()
            if (p := psutil.Process(pid)).parent() is not None and "chrom" not in p.parent().name()  # type: ignore[union-attr]
        ]
        assert len(browsers) == 1
        mark = len(w.recorder.events)
        browsers[0].kill()
        for sid in ("a", "b"):
            lost = await w.recorder.wait_state(sid, S.DISCONNECTED, start=mark)
            assert lost.reason is Reason.BROWSER_CRASH
            ready = await w.recorder.wait_for(
                SessionReady, lambda e, s=sid: e.session_id == s, start=mark
            )
            assert ready.restored
        await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "c", start=mark)
        assert host.browser_launches == 2
        assert host.pool is not None
        await host.pool.wait_ready(timeout=90)  # refilled in the new browser
        assert (await w.phone.stats())["conflicts_total"] == 0


PROBE = textwrap.dedent(
    """
    import asyncio, sys, psutil
    from app.config import Settings
    from app.engine.browser.launch import ChromiumLauncher

    async def main():
        launcher = ChromiumLauncher(Settings())
        await launcher.start()
        browser = await launcher.launch()
        page = await browser.new_page()
        await page.goto("about:blank")
        driver = [c.pid for c in psutil.Process().children() if "node" in c.name()]
        kids = [c.pid for c in psutil.Process().children(recursive=True)]
        print(" ".join(map(str, driver)), "|", " ".join(map(str, kids)), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("wedge_driver", [False, True])
async def test_no_chromium_survives_kill_9_of_the_instance(wedge_driver: bool) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBE, stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]
    )
    kids: list[int] = []
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(90):
            line = (await proc.stdout.readline()).decode()
        driver_part, kids_part = line.split("|")
        kids = [int(p) for p in kids_part.split()]
        assert any("chrom" in psutil.Process(p).name() for p in kids)
        if wedge_driver:
            # A driver that cannot clean up (stopped) must not keep Chromium alive.
            for pid in map(int, driver_part.split()):
                os.kill(pid, signal.SIGSTOP)
        proc.kill()
        await proc.wait()
        procs = []
        for pid in kids:
            with contextlib.suppress(psutil.NoSuchProcess):
                procs.append(psutil.Process(pid))
        _gone, alive = await asyncio.to_thread(psutil.wait_procs, procs, 30)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"still running after kill -9: {alive}"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for pid in kids:  # only pids this test started; a no-op when the test passed
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


async def test_a_page_that_reloads_itself_is_hooked_again(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        slot = host._sessions["s1"].slot
        assert slot is not None
        await slot.page.page.evaluate("() => { window.__marker = 1; location.reload(); }")

        async def hooked_again() -> bool:
            with contextlib.suppress(PlaywrightError):  # mid-navigation
                return bool(
                    await slot.page.page.evaluate(
                        "() => !window.__marker && !!window.__pairdeskAdapter"
                    )
                )
            return False

        async with asyncio.timeout(60):
            while not await hooked_again():
                await asyncio.sleep(0.1)
            # The reload itself may have shown as a short disconnect: let it settle.
            while host.session("s1").state is not S.CONNECTED:
                await asyncio.sleep(0.1)
        # The hooks of the new document work: a dropped socket is seen and comes back.
        mark = len(w.recorder.events)
        await w.phone.set_faults(drop_sockets=True)
        await w.recorder.wait_state("s1", S.DISCONNECTED, start=mark)
        await w.recorder.wait_state("s1", S.CONNECTED, start=mark)
        assert host.session("s1").restarts == 0
