"""Diagnosis in two clicks from the grid: the reason column, the row menu and the side
panel opening the full timeline in Diagnose, a bulk bar that never moves the rows, an
empty filter that says so, and a grid that is usable at 1024 px."""

from __future__ import annotations

from app.domain.events import SessionError
from app.domain.models import SessionInfo
from app.domain.states import Reason
from app.domain.states import SessionState as S
from app.ui.main_window import MainWindow
from app.ui.session_row import Col
from tests.ui.fakes import state_event

SID = "webjs_7_1700000000_abcdefgh"


def _window(qtbot, host, fake_engine, settings) -> MainWindow:
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    fake_engine.push(state_event(SID, S.DISCONNECTED, ws=7, reason=Reason.BROWSER_CRASH))
    qtbot.waitUntil(lambda: window.sessions.rowCount() == 1, timeout=10_000)
    return window


def test_reason_column_and_hidden_session_id_column(qtbot, host, fake_engine, settings):
    window = _window(qtbot, host, fake_engine, settings)
    fake_engine.push(
        SessionError(session_id=SID, workspace_id=7, error="crash", message="page crashed\\n twice")
    )
    model, table = window.sessions, window.grid.table
    qtbot.waitUntil(lambda: "page crashed" in model.index(0, Col.REASON).data(), timeout=10_000)
    assert model.index(0, Col.REASON).data() == "browser_crash — page crashed\\n twice"
    header = table.horizontalHeader()
    assert header.visualIndex(Col.REASON) == 1  # right after the state
    assert model.headerData(Col.REASON, header.orientation()) == "Reason / last error"
    assert table.isColumnHidden(Col.SESSION) and model.index(0, Col.SESSION).data() == SID
    fake_engine.push(state_event(SID, S.CONNECTED, ws=7))
    qtbot.waitUntil(lambda: model.index(0, Col.REASON).data() == "", timeout=10_000)


def test_row_menu_and_side_panel_open_the_full_timeline_in_diagnose(
    qtbot, host, fake_engine, settings
):
    window = _window(qtbot, host, fake_engine, settings)
    menu = window.grid.row_menu([SID])
    full = next(a for a in menu.actions() if a.text() == "Full timeline in Diagnose")
    full.trigger()
    d = window.diagnostics
    assert window.stack.currentIndex() == 4 and d.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: d.timeline_model.session_id == SID, timeout=10_000)
    assert d.session_input.text() == SID  # nothing typed

    window.show_view(1)
    d.timeline_model.set_entries("", [])
    window.grid.sig_timeline_requested.emit(SID)  # double-click: the side panel
    assert window.drawer.isVisibleTo(window) and SID in window.drawer.title.text()
    window.drawer.full.click()
    assert window.stack.currentIndex() == 4
    qtbot.waitUntil(lambda: d.timeline_model.session_id == SID, timeout=10_000)


def test_selecting_rows_does_not_move_them(qtbot, host, fake_engine, settings):
    window = _window(qtbot, host, fake_engine, settings)
    window.show()
    window.show_view(1)
    grid = window.grid
    qtbot.waitUntil(grid.table.isVisible)
    before = grid.table.mapTo(window, grid.table.rect().topLeft())
    assert not any(b.isEnabled() for b in grid.bulk_buttons)
    grid.table.selectRow(0)
    qtbot.waitUntil(lambda: grid.bulk_label.text() == "1 selected")
    assert all(b.isEnabled() for b in grid.bulk_buttons)
    assert grid.table.mapTo(window, grid.table.rect().topLeft()) == before


def test_a_filter_that_matches_nothing_says_so_and_clears(qtbot, host, fake_engine, settings):
    empty = MainWindow(host, settings=settings)
    qtbot.addWidget(empty)
    assert empty.grid.empty_message() == "No accounts yet: add them in Onboard (Ctrl+4)."
    window = _window(qtbot, host, fake_engine, settings)
    grid = window.grid
    assert grid.empty_message() == ""
    grid.search.setText("nobody-has-this")
    assert grid.proxy.rowCount() == 0
    assert grid.empty_message() == "No account matches text “nobody-has-this” (1 hidden)."
    grid.set_filter("connected")
    assert "state “connected”" in grid.empty_message()
    grid.clear_filter()
    assert grid.proxy.rowCount() == 1 and grid.empty_message() == ""
    assert grid.search.text() == ""


def test_at_1024_px_the_first_columns_fit(qtbot, host, fake_engine, settings):
    window = _window(qtbot, host, fake_engine, settings)
    window.resize(1024, 720)
    window.show()
    window.show_view(1)
    table = window.grid.table
    qtbot.waitUntil(table.isVisible)
    header, width = table.horizontalHeader(), table.viewport().width()
    for col in (Col.STATE, Col.REASON, Col.WORKSPACE, Col.LABEL):
        assert header.sectionViewportPosition(col) + header.sectionSize(col) <= width, col
    assert table.horizontalScrollBar().maximum() > 0  # the rest scrolls, nothing squeezed


def test_the_wall_the_navigation_and_the_status_bar_agree(qtbot, host, fake_engine, settings):
    from tests.ui.fakes import qr_event

    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    fake_engine.push(qr_event("a", 1), qr_event("b", 2), state_event("c", S.STARTING, ws=3))
    qtbot.waitUntil(lambda: window.sessions.rowCount() == 3, timeout=10_000)
    window._on_tick_timeout()
    window.wall.refresh()
    assert window.wall.summary.text().startswith("2 waiting for a scan")
    assert window.nav.item(0).text() == "QR wall   2"
    waiting = window.totals.buttons["waiting"].text()
    assert waiting == "● 2 waiting for a scan · 1 starting or linking"
    assert window.grid.chips["waiting"].text() == "waiting  3"  # the chip filters all three


def test_qrs_before_the_first_list_do_not_count_twice(qtbot, settings) -> None:
    from app.ui.qr_wall_model import QrWallModel
    from app.ui.sessions_model import SessionsModel
    from tests.ui.fakes import qr_event

    sessions = SessionsModel()
    wall = QrWallModel(sessions)
    early = qr_event("a", 1)
    wall.apply([early])  # published while the engine started
    info = SessionInfo(
        session_id="a", workspace_id=1, state=S.QR, qr="2@older,k,k", qr_issued_at=early.at
    )
    wall.load([info, SessionInfo(session_id="b", workspace_id=2, state=S.QR, qr="2@b,k,k")])
    assert wall.rowCount() == 2 and wall.waiting_count() == 2
    assert wall.entry_for("a").qr == early.qr
