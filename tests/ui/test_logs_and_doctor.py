"""Instance logs reachable from the instance's card (with a placeholder when there is
none, and the instance's own log file when the engine's tail is empty); the Doctor tab
runs its checks when opened."""

from __future__ import annotations

from pathlib import Path

from app.engine.api import DoctorCheck
from app.logfiles import log_path
from app.ui.main_window import MainWindow
from tests.ui.fakes import FakeEngine


class QuietEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.doctor_runs = 0

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        return []

    async def doctor(self) -> list[DoctorCheck]:
        self.doctor_runs += 1
        return [DoctorCheck("database", False, "cannot connect", "check database_url")]


def _window(qtbot, settings, tmp_path: Path, engine: FakeEngine) -> MainWindow:
    from app.ui.engine_host import EngineHost

    host = EngineHost(lambda: engine, interval_ms=10)
    window = MainWindow(host, settings=settings.with_overrides(data_dir=str(tmp_path / "data")))
    qtbot.addWidget(window)
    host.start()  # after the window: it hears the first lists
    qtbot.waitUntil(lambda: window.instances.rowCount() == 1, timeout=10_000)
    return window


def test_card_opens_the_log_with_a_placeholder_when_there_is_none(qtbot, settings, tmp_path):
    window = _window(qtbot, settings, tmp_path, QuietEngine())
    try:
        qtbot.waitUntil(lambda: "i-1" in window.instances_view.cards(), timeout=10_000)
        window.instances_view.cards()["i-1"].show_log.click()
        d = window.diagnostics
        assert window.stack.currentIndex() == 4 and d.tabs.currentWidget() is d._logs_tab
        qtbot.waitUntil(lambda: "No log lines from i-1 yet" in d.log.placeholderText())
        assert d.log.toPlainText() == ""
        assert str(log_path(window.settings, "i-1")) in d.log.placeholderText()
    finally:
        window.host.close()


def test_an_empty_engine_tail_falls_back_to_the_instance_log_file(qtbot, settings, tmp_path):
    window = _window(qtbot, settings, tmp_path, QuietEngine())
    try:
        path = log_path(window.settings, "i-1")
        path.parent.mkdir(parents=True)
        path.write_text("12:00:00 WARNING pairdesk: could not open the browser\n")
        window._on_instance_log_requested("i-1")
        qtbot.waitUntil(
            lambda: "could not open the browser" in window.diagnostics.log.toPlainText()
        )
    finally:
        window.host.close()


def test_the_doctor_tab_runs_its_checks_when_opened(qtbot, settings, tmp_path):
    engine = QuietEngine()
    window = _window(qtbot, settings, tmp_path, engine)
    try:
        d = window.diagnostics
        window.show_view(4, tab=d.tabs.indexOf(d._doctor_tab))
        qtbot.waitUntil(lambda: d.doctor.topLevelItemCount() == 1, timeout=10_000)
        assert d.doctor.topLevelItem(0).text(3) == "check database_url"
        assert engine.doctor_runs >= 1
    finally:
        window.host.close()


async def test_demo_accounts_are_reused_not_duplicated() -> None:
    from app.ui.app import ensure_demo_accounts

    engine = FakeEngine()
    first = await ensure_demo_accounts(engine, 3)
    again = await ensure_demo_accounts(engine, 3)
    more = await ensure_demo_accounts(engine, 4)
    assert len(first) == 3 and again == [] and len(more) == 1
    assert len(engine.sessions) == 4
