"""Zero wait between scans: a QR reaches the wall without waiting for the
coalescing timer, and focus mode has the next QR drawn before the current one
is scanned."""

from __future__ import annotations

from app.domain.events import SessionHeartbeat
from app.domain.states import SessionState
from app.ui.engine_host import EngineHost
from app.ui.focus_view import FocusView
from app.ui.qr_wall_model import QrWallModel
from app.ui.sessions_model import SessionsModel
from tests.ui.fakes import FakeEngine, qr_event, state_event

S = SessionState
NEVER_MS = 3_600_000  # a coalescing timer that never fires during the test


def test_a_qr_is_delivered_at_once_heartbeats_ride_along_in_order(qtbot):
    engine = FakeEngine()
    host = EngineHost(lambda: engine, interval_ms=NEVER_MS)
    try:
        with qtbot.waitSignal(host.sig_sessions_loaded, timeout=10_000):
            host.start()  # the first lists are urgent too: the timer never fires
        batches: list[list] = []
        host.sig_session_events.connect(batches.append)
        beat = SessionHeartbeat(session_id="a", latency_ms=1)
        qr = qr_event("a", 1)
        engine.push(beat, qr)
        qtbot.waitUntil(lambda: any(qr in b for b in batches), timeout=10_000)
        delivered = [e for b in batches for e in b]
        assert delivered.index(beat) < delivered.index(qr)  # order kept
    finally:
        host.close()


def test_heartbeats_alone_wait_for_the_coalescing_timer(qtbot):
    engine = FakeEngine()
    host = EngineHost(lambda: engine, interval_ms=NEVER_MS)
    try:
        with qtbot.waitSignal(host.sig_sessions_loaded, timeout=10_000):
            host.start()
        batches: list[list] = []
        host.sig_session_events.connect(batches.append)
        engine.push(*[SessionHeartbeat(session_id=f"s{i}", latency_ms=1) for i in range(50)])
        # An urgent event behind them proves they all reached the queue; the heartbeats
        # were not delivered on their own before it (one batch, not fifty signals).
        engine.push(state_event("s1", S.PAIRING))  # a scan: focus mode moves on at once
        qtbot.waitUntil(lambda: sum(len(b) for b in batches) == 51, timeout=10_000)
        assert len(batches) <= 2
    finally:
        host.close()


def test_focus_mode_draws_the_next_qr_beside_the_current_one(qtbot):
    sessions = SessionsModel()
    model = QrWallModel(sessions)
    focus = FocusView(model)
    qtbot.addWidget(focus)
    focus.show()
    model.apply([qr_event("a", 1), qr_event("b", 2), qr_event("c", 3)])
    focus.refresh()
    assert focus.current_id == "a"
    assert focus.next_id == "b"
    next_qr = focus.next_qr.qr_text()
    assert next_qr == "2@b-ref,abc,def" and focus.qr.qr_text() != next_qr
    # Scanned: the QR staff turn to next is the one already drawn beside it.
    model.apply([state_event("a", S.PAIRING, 1)])
    assert focus.current_id == "b" and focus.qr.qr_text() == next_qr
    assert focus.next_id == "c"


def test_focus_mode_next_qr_is_empty_when_nobody_else_waits(qtbot):
    sessions = SessionsModel()
    model = QrWallModel(sessions)
    focus = FocusView(model)
    qtbot.addWidget(focus)
    focus.show()
    model.apply([qr_event("a", 1)])
    focus.refresh()
    assert focus.current_id == "a" and focus.next_id == "" and focus.next_qr.qr_text() == ""


def test_focus_mode_draws_the_move_at_once_next_qr_included(qtbot):
    from app.ui.bench_probes import PaintWatch

    sessions = SessionsModel()
    model = QrWallModel(sessions)
    focus = FocusView(model)
    qtbot.addWidget(focus)
    focus.show()
    qtbot.waitExposed(focus)
    model.apply([qr_event("a", 1), qr_event("b", 2), qr_event("c", 3)])
    qtbot.wait(50)  # everything so far drawn
    watch = PaintWatch()
    watch.watch(focus.qr, "focus")
    watch.watch(focus.next_qr, "next")
    # Scanned: the move is painted before the event loop turns (nobody, camera or
    # person, sees "b" in the middle without "c" beside it).
    model.apply([state_event("a", S.PAIRING, 1)])
    drawn = {(p.key, p.qr) for p in watch.paints}
    assert ("next", focus.next_qr.qr_text()) in drawn and focus.next_id == "c"
    assert ("focus", focus.qr.qr_text()) in drawn and focus.current_id == "b"
