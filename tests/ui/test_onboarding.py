"""The Onboard view in the console: focus advances on scan to a QR already on screen,
the next account is warmed, pause stops the warm QRs; labels arrive from events.

The run model itself (warm window, skip, results) is tested in tests/operator."""

from __future__ import annotations

from app.domain.events import SessionReady
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.ui.main_window import MainWindow
from tests.ui.fakes import qr_event, state_event

S = SessionState
SHEET = "workspace_id,label,phone\n1,A,\n2,B,\nx,Bad,\n3,C,\n4,D,\n5,E,\n"


def test_focus_advances_on_scan_to_a_qr_already_on_screen(qtbot, host, fake_engine, settings):
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.onboarding.load_text(SHEET)
    window.onboarding.start.click()
    qtbot.waitUntil(lambda: window.onboarding.run is not None)
    run = window.onboarding.run
    ids = run.session_ids
    started = lambda: [c[1] for c in fake_engine.calls if c[0] == "start_session"]  # noqa: E731
    qtbot.waitUntil(lambda: started() == ids[:3])
    assert window.qr_stack.currentWidget() is window.focus
    # The engine shows the three warm QRs.
    fake_engine.push(*[qr_event(sid, k + 1) for k, sid in enumerate(ids[:3])])
    qtbot.waitUntil(lambda: window.wall_model.rowCount() == 3)
    focus = window.focus
    assert focus.current_id == ids[0]
    assert "A" in focus.title.text()  # the label shows at once
    fake_engine.push(state_event(ids[0], S.PAIRING, 1))
    qtbot.waitUntil(lambda: focus.current_id == ids[1])
    assert focus.next_id == ids[2]  # drawn beside, so not listed again under it
    assert "<b>C</b>" not in focus.next_list.text() and "<b>D</b>" in focus.next_list.text()
    assert "starting…" in focus.next_list.text()
    # The next account is warmed meanwhile (and, scanned this soon after Start, the
    # ones after it: the window widens for fast scans).
    qtbot.waitUntil(lambda: started()[:4] == ids[:4])
    fake_engine.push(SessionReady(session_id=ids[0], workspace_id=1, phone_number="6281100000001"))
    qtbot.waitUntil(lambda: "1 / 5 connected" in focus.progress_line.text())
    focus.pause_button.click()
    qtbot.waitUntil(lambda: ("stop_session", ids[3]) in fake_engine.calls)
    assert "paused" in focus.progress_line.text()


def test_labels_arrive_for_rows_first_seen_in_events(qtbot, host, fake_engine, settings):
    # The real engine publishes a QR before add_accounts returns: the row starts without
    # a label, and the window fills it in from list_sessions at once.
    fake_engine.sessions["early"] = SessionInfo(session_id="early", workspace_id=9, label="Kopi")
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    fake_engine.push(qr_event("early", 9))
    qtbot.waitUntil(lambda: window.wall_model.entry_for("early") is not None)
    qtbot.waitUntil(lambda: window.wall_model.entry_for("early").label == "Kopi")
    assert window.sessions.row_for("early").label == "Kopi"


def test_a_checked_sheet_has_login_pages_booted_until_its_batch_is_done(
    qtbot, host, fake_engine, settings
):
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.onboarding.load_text(SHEET)  # 5 valid rows: a page for each, before Start
    qtbot.waitUntil(lambda: fake_engine.warm_ups == [5])
    assert "login pages for the first ones are opening now" in window.onboarding.message.text()
    window.onboarding.load_text("workspace_id,label\nx,Bad\n")  # nothing valid: give them back
    qtbot.waitUntil(lambda: fake_engine.warm_ups == [5, 0])
    window.onboarding.load_text(SHEET)
    qtbot.waitUntil(lambda: fake_engine.warm_ups == [5, 0, 5])
    window.onboarding.start.click()
    qtbot.waitUntil(lambda: window.onboarding.run is not None)
    ids = window.onboarding.run.session_ids
    for k, sid in enumerate(ids[:-1]):
        fake_engine.push(SessionReady(session_id=sid, workspace_id=1, phone_number=f"62811{k:07d}"))
    qtbot.waitUntil(lambda: len(window.onboarding.run.connected) == len(ids) - 1)
    assert fake_engine.warm_ups == [5, 0, 5]  # one account still to link: keep them
    fake_engine.push(SessionReady(session_id=ids[-1], workspace_id=1, phone_number="6281199"))
    qtbot.waitUntil(lambda: fake_engine.warm_ups == [5, 0, 5, 0])  # batch done: back


def test_a_refused_warm_up_is_said_in_the_status_bar(qtbot, host, fake_engine, settings):
    async def refuse(pages: int, *, seconds: float = 0.0) -> None:
        raise RuntimeError("instance-0 is restarting")

    fake_engine.warm_up = refuse
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.onboarding.load_text(SHEET)
    qtbot.waitUntil(
        lambda: "Could not open login pages ahead" in window.statusBar().currentMessage()
    )
    assert "may take a second longer" in window.statusBar().currentMessage()
