"""Every failure that stops work shows a banner in the window: what happened, what it
affects, what to do; the banner clears itself when the cause is gone. The window is
rendered offscreen and its banner text read (once through OCR of a grabbed PNG)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest

from app.domain.events import InstanceLoad, SyncStatus, utcnow
from app.domain.models import InstanceInfo, SessionInfo
from app.domain.states import SessionState as S
from app.engine.api import EngineError
from app.ui.engine_host import EngineHost
from app.ui.main_window import MainWindow
from app.ui.problems import Snapshot, find_problems
from tests.ui.fakes import FakeEngine, state_event

NO_CHROMIUM = "could not start: pairdesk instance: no Chromium found; install chromium"


class FailingStart(FakeEngine):
    """An engine whose start fails with `error` (a store that cannot connect)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

    async def start(self) -> None:
        await super().start()
        raise EngineError(self.error)


def _window(qtbot, host: EngineHost, settings) -> MainWindow:
    """The window first, then the engine: it hears everything from the start."""
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    if not host.running:
        host.start()
    return window


@pytest.fixture
def flaky_db_host(qtbot) -> Iterator[tuple[EngineHost, list[FakeEngine]]]:
    built: list[FakeEngine] = []

    def factory() -> FakeEngine:
        # The first engine meets the unreachable database; the next one starts.
        engine: FakeEngine = (
            FailingStart("database: cannot connect to postgresql://pd@db/pd (Connection refused)")
            if not built
            else FakeEngine()
        )
        built.append(engine)
        return engine

    host = EngineHost(factory, interval_ms=10)  # started by the test, after the window
    yield host, built
    host.close()


def test_unreachable_database_banner_says_what_and_clears_after_retry(
    qtbot, flaky_db_host, settings
) -> None:
    host, built = flaky_db_host
    window = _window(qtbot, host, settings)
    qtbot.waitUntil(lambda: bool(window.banners.texts()), timeout=10_000)
    [text] = window.banners.texts()
    assert text.startswith("The database is unreachable (database: cannot connect")
    assert "No account can be shown, started or linked until the engine starts" in text
    assert "What to do: check database_url (PAIRDESK_DATABASE_URL)" in text
    assert "pairdesk doctor" in text
    assert window.header.sync.text() == "● sync: engine not running"
    assert window._retry.isActive()  # the console retries by itself

    window._on_retry_timeout()  # what the retry timer does (not waiting 15 s)
    qtbot.waitUntil(lambda: not window.banners.texts(), timeout=10_000)
    assert len(built) == 2 and not window.banners.isVisible()
    assert not window._retry.isActive()


def test_banner_is_readable_on_the_rendered_window(qtbot, flaky_db_host, settings, tmp_path):
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        pytest.skip("tesseract is not installed (make setup installs it as root)")
    host, _built = flaky_db_host
    window = _window(qtbot, host, settings)
    window.resize(1440, 900)
    window.show()
    qtbot.waitUntil(lambda: window.banners.isVisible(), timeout=10_000)
    png = tmp_path / "window.png"
    window.banners.grab().save(str(png))
    done = subprocess.run(
        [tesseract, str(png), "-"], capture_output=True, text=True, timeout=60, check=True
    )
    words = " ".join(done.stdout.split())
    assert "database is unreachable" in words
    assert "What to do" in words


def test_missing_chromium_banner_instead_of_an_empty_wall(qtbot, settings) -> None:
    engine = FakeEngine(
        sessions=[SessionInfo(session_id=f"s{n}", workspace_id=n) for n in range(12)],
        instances=[
            InstanceInfo(instance_id="i-1", index=1, alive=False, last_error=NO_CHROMIUM),
            InstanceInfo(instance_id="i-2", index=2, alive=False, last_error=NO_CHROMIUM),
        ],
    )
    host = EngineHost(lambda: engine, interval_ms=10)
    try:
        window = _window(qtbot, host, settings)
        qtbot.waitUntil(lambda: bool(window.banners.texts()), timeout=10_000)
        [text] = window.banners.texts()
        assert text.startswith("Chromium is missing: no instance can start")
        assert "12 account(s) cannot show a QR or stay connected" in text
        assert "What to do: run `make setup`, or set PAIRDESK_CHROMIUM" in text
        # Chromium installed: the instances come up and the banner goes.
        engine.push(*(InstanceLoad(instance_id=i, alive=True) for i in ("i-1", "i-2")))
        qtbot.waitUntil(lambda: not window.banners.texts(), timeout=10_000)
    finally:
        host.close()


def test_instance_down_banner_and_card_say_why_and_since_when(qtbot, settings) -> None:
    started = utcnow() - timedelta(minutes=5)
    engine = FakeEngine(
        sessions=[SessionInfo(session_id="a", workspace_id=1, instance_id="i-2")],
        instances=[
            InstanceInfo(instance_id="i-1", index=1, alive=True, started_at=started),
            InstanceInfo(instance_id="i-2", index=2, alive=True, started_at=started),
        ],
    )
    host = EngineHost(lambda: engine, interval_ms=10)
    try:
        window = _window(qtbot, host, settings)
        qtbot.waitUntil(lambda: window.instances.rowCount() == 2, timeout=10_000)
        assert not window.banners.texts()
        engine.instances[1] = InstanceInfo(
            instance_id="i-2", index=2, alive=False, last_error="exited with status 137"
        )
        engine.push(InstanceLoad(instance_id="i-2", alive=False))
        qtbot.waitUntil(lambda: bool(window.banners.texts()), timeout=10_000)
        window._refresh_instances()  # the window re-reads why every few seconds
        qtbot.waitUntil(lambda: "status 137" in " ".join(window.banners.texts()), timeout=10_000)
        [text] = window.banners.texts()
        assert text.startswith("Instance i-2 is down since ")
        assert ": exited with status 137" in text
        assert "Its 1 account(s) move to the other instances or wait for it" in text
        card = window.instances_view.cards()["i-2"]
        card.refresh(window.instances)
        assert card.status.text().startswith("● down since ")
        assert card.why.text() == "Why: exited with status 137"
        assert "peak" not in card.mem_label.text()  # no "peak 1 B" without a sample
        engine.push(InstanceLoad(instance_id="i-2", alive=True))
        qtbot.waitUntil(lambda: not window.banners.texts(), timeout=10_000)
        card.refresh(window.instances)
        assert card.status.text().startswith("● running")
        assert card.why.isHidden()
    finally:
        host.close()


def test_central_api_and_full_disk_banners_come_and_go(qtbot, host, fake_engine, settings):
    window = _window(qtbot, host, settings)
    fake_engine.push(
        SyncStatus(enabled=True, pending=5, oldest_pending_age=120, last_error="ConnectError")
    )
    qtbot.waitUntil(lambda: bool(window.banners.texts()), timeout=10_000)
    [text] = window.banners.texts()
    assert text.startswith("The central API is not taking events (ConnectError)")
    assert "5 event(s) wait in the outbox" in text
    assert "What to do: check central_url and the network" in text
    fake_engine.push(SyncStatus(enabled=True, pending=0, delivered=5))
    qtbot.waitUntil(lambda: not window.banners.texts(), timeout=10_000)

    fake_engine.push(state_event("full", S.FAILED, reason="disk_full"))
    qtbot.waitUntil(lambda: bool(window.banners.texts()), timeout=10_000)
    [text] = window.banners.texts()
    assert text.startswith("The sessions disk is full")
    assert "1 account(s) stopped" in text
    assert "What to do: free disk space in the sessions folder" in text
    fake_engine.push(state_event("full", S.CONNECTED))
    qtbot.waitUntil(lambda: not window.banners.texts(), timeout=10_000)


def test_a_young_backlog_or_a_first_start_is_no_problem() -> None:
    assert not find_problems(
        Snapshot(sync=SyncStatus(enabled=True, pending=3, oldest_pending_age=5, last_error="x"))
    )
    starting = InstanceInfo(instance_id="i-1", index=1, alive=False)
    assert not find_problems(Snapshot(instances=(starting,)))


def test_engine_failure_without_a_known_cause_still_says_what_to_do() -> None:
    [problem] = find_problems(Snapshot(engine_error="The engine did not start: boom"))
    assert problem.key == "engine"
    assert "pairdesk doctor" in problem.todo


def test_a_chromium_banner_keeps_the_reason_from_the_second_line() -> None:
    error = "could not start: instance-0 exited with status 2:\n  pairdesk instance: no Chromium"
    down = InstanceInfo(instance_id="instance-0", index=0, last_error=error)
    [problem] = find_problems(Snapshot(instances=(down,)))
    assert "exited with status 2: pairdesk instance: no Chromium" in problem.what
    assert problem.affects == "No account can show a QR or stay connected"
