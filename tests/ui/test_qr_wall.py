"""QR wall and focus mode, driven by scripted events."""

from __future__ import annotations

from datetime import timedelta

import zxingcpp
from PySide6.QtCore import Qt

from app.domain.events import SessionReady, utcnow
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.ui import test_phone, theme
from app.ui.focus_view import FocusView
from app.ui.qr_wall import QrWallView, countdown_color
from app.ui.qr_wall_model import LINGER_S, Phase, QrWallModel
from app.ui.sessions_model import SessionsModel
from tests.ui.fakes import qr_event, state_event

S = SessionState


def _wall(qtbot, sandbox: bool = True):
    sessions = SessionsModel()
    sessions.load([SessionInfo(session_id="a", workspace_id=12, label="Toko Maju")])
    model = QrWallModel(sessions)
    view = QrWallView(model, sandbox=sandbox)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    return sessions, model, view


def test_tile_appears_on_qr_and_shows_label(qtbot):
    _sessions, model, view = _wall(qtbot)
    model.apply([qr_event("a", 12)])
    tile = view.tile("a")
    assert tile is not None
    assert "Toko Maju" in tile.title.text() and "ws 12" in tile.title.text()
    assert tile.status.text().startswith("expires in")


def test_countdown_colour_thresholds():
    assert countdown_color(30) == theme.BLUE
    assert countdown_color(9.9) == theme.AMBER
    assert countdown_color(4.9) == theme.RED


def test_tile_turns_amber_then_red(qtbot):
    _s, model, view = _wall(qtbot)
    model.apply([qr_event("a", 12, life=20, age=12)])  # 8 s left
    view.refresh()
    assert view.tile("a").bar.color == theme.AMBER
    model.apply([qr_event("a", 12, life=20, age=16)])  # 4 s left
    view.refresh()
    assert view.tile("a").bar.color == theme.RED


def test_expired_qr_is_greyed_refreshing_and_not_scannable(qtbot):
    _s, model, view = _wall(qtbot)
    model.apply([qr_event("a", 12, life=20, age=25)])
    model.tick()
    view.refresh()
    tile = view.tile("a")
    assert model.entry_for("a").phase == Phase.EXPIRED
    assert "refreshing" in tile.status.text()
    assert not tile.scan_button.isEnabled()
    assert not zxingcpp.read_barcodes(test_phone.image_to_pil(tile.qr.grab().toImage()))


def test_scanned_then_connected_then_leaves(qtbot):
    _s, model, view = _wall(qtbot)
    model.apply([qr_event("a", 12, age=14)])
    model.apply([state_event("a", S.PAIRING, 12)])
    view.refresh()
    assert "linking" in view.tile("a").status.text()
    model.apply([SessionReady(session_id="a", workspace_id=12, phone_number="6281122334410")])
    view.refresh()
    text = view.tile("a").status.text()
    assert "connected" in text and "+62 811 2233 4410" in text and "in 14 s" in text
    model.tick(utcnow() + timedelta(seconds=LINGER_S + 1))
    assert model.rowCount() == 0
    qtbot.waitUntil(lambda: view.tile("a") is None)


def test_scan_with_test_phone_decodes_the_tiles_own_pixels(qtbot):
    _s, model, view = _wall(qtbot)
    qr = "2@Xy7Qm+9/abcDEFghiJKL==,k3yB64part+/==,anotherPart0123==,lastPart=="
    model.apply([qr_event("a", 12, qr=qr)])
    view.refresh()
    tile = view.tile("a")
    with qtbot.waitSignal(view.sig_scan_requested) as blocker:
        qtbot.mouseClick(tile.scan_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == "a"
    assert test_phone.decode_widget(blocker.args[1]) == qr


def test_focus_mode_keys_and_advance(qtbot):
    sessions = SessionsModel()
    model = QrWallModel(sessions)
    focus = FocusView(model)
    qtbot.addWidget(focus)
    focus.show()
    model.apply([qr_event("a", 1), qr_event("b", 2), qr_event("c", 3)])
    focus.refresh()
    assert focus.current_id == "a"
    with qtbot.waitSignal(focus.sig_skipped):
        qtbot.keyClick(focus, Qt.Key.Key_Space)
    assert focus.current_id == "b"
    assert [e.session_id for e in model.entries()] == ["b", "c", "a"]
    with qtbot.waitSignal(focus.sig_regenerate_requested) as blocker:
        qtbot.keyClick(focus, Qt.Key.Key_R)
    assert blocker.args == ["b"]
    # Scanned: focus moves on at once to the next QR on screen; "b" stays in the last line.
    model.apply([state_event("b", S.PAIRING, 2)])
    assert focus.current_id == "c"
    assert "linking" in focus.last_line.text()
    model.apply([SessionReady(session_id="b", workspace_id=2, phone_number="6281200000001")])
    focus.refresh()
    assert "connected" in focus.last_line.text() and "+62 812" in focus.last_line.text()
    assert focus.current_id == "c"
    with qtbot.waitSignal(focus.sig_leave_requested):
        qtbot.keyClick(focus, Qt.Key.Key_Escape)
