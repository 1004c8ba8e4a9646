"""The gates in the console: a tile switches between QR and pairing code (copy, countdown,
back to QR), focus mode shows codes, the passkey and blocks stay on the wall with the
operator's message and their one action, the grid shows the proxy and the reasons."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.domain.events import PairingCodeIssued, utcnow
from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.operator.text import reason_message
from app.ui.focus_view import FocusView
from app.ui.main_window import MainWindow
from app.ui.qr_wall_model import Phase, QrWallModel
from app.ui.session_row import Col
from app.ui.sessions_model import SessionsModel
from tests.ui.fakes import qr_event, state_event
from tests.ui.test_qr_wall import _wall

S = SessionState
PHONE = "6281234567890"


def _code(sid: str, code: str = "K7Q2M9XD", *, left: float = 150.0) -> PairingCodeIssued:
    at = utcnow() - timedelta(seconds=180 - left)
    return PairingCodeIssued(
        session_id=sid,
        workspace_id=12,
        code=code,
        phone=PHONE,
        expires_at=at + timedelta(seconds=180),
        code_count=1,
        at=at,
    )


def test_a_tile_switches_to_the_code_and_back(qtbot):
    _s, model, view = _wall(qtbot)
    model.apply([qr_event("a", 12)])
    tile = view.tile("a")
    assert tile.qr.isVisible() and not tile.code.isVisible() and tile.phone_button.isVisible()
    model.apply([_code("a")])
    view.refresh()
    assert tile.code.isVisible() and not tile.qr.isVisible()
    assert tile.code.code() == "K7Q2M9XD"
    assert tile.code.toolTip() == "K7Q2-M9XD for +62 812 3456 7890"
    assert tile.status.text().startswith("new code in 2:")
    assert tile.regen_button.text() == "Show QR" and tile.copy_button.isVisible()
    assert tile.enter_button is not None and tile.enter_button.isVisible()
    assert not tile.scan_button.isVisible() and not tile.phone_button.isVisible()
    tile.copy_button.click()
    assert QGuiApplication.clipboard().text() == "K7Q2M9XD"
    with qtbot.waitSignal(view.sig_code_entry_requested) as entered:
        tile.enter_button.click()
    assert entered.args == ["a", "K7Q2M9XD", PHONE]
    with qtbot.waitSignal(view.sig_regenerate_requested) as back:
        tile.regen_button.click()
    assert back.args == ["a"]
    model.apply([qr_event("a", 12)])  # the QR is back
    view.refresh()
    assert tile.qr.isVisible() and not tile.code.isVisible()
    assert model.entry_for("a").code == ""


def test_an_expired_code_waits_for_the_next(qtbot):
    _s, model, view = _wall(qtbot)
    model.apply([_code("a", left=-1)])
    model.tick()
    view.refresh()
    tile = view.tile("a")
    assert model.entry_for("a").phase == Phase.EXPIRED
    assert "renewing" in tile.status.text() and not tile.enter_button.isEnabled()


def test_the_passkey_stays_on_the_wall_with_its_action(qtbot):
    _s, model, view = _wall(qtbot)
    model.apply([qr_event("a", 12)])
    model.apply([state_event("a", S.PAIRING, 12)])
    model.apply([state_event("a", S.PASSKEY_REQUIRED, 12, reason=Reason.PASSKEY_REQUIRED)])
    view.refresh()
    tile = view.tile("a")
    assert model.entry_for("a").phase == Phase.PASSKEY
    assert tile.message.isVisible() and tile.message.text() == reason_message(
        Reason.PASSKEY_REQUIRED
    )
    assert tile.window_button.isVisible() and not tile.regen_button.isVisible()
    assert "1 need an operator" in view.summary.text()
    with qtbot.waitSignal(view.sig_window_requested) as asked:
        tile.window_button.click()
    assert asked.args == ["a"]
    model.apply([state_event("a", S.CONNECTED, 12)])  # confirmed in the window
    view.refresh()
    assert model.entry_for("a").phase == Phase.CONNECTED


def test_a_block_stays_until_dismissed(qtbot):
    _s, model, view = _wall(qtbot)
    model.apply([qr_event("a", 12)])
    detail = reason_message(Reason.TOS_BLOCK)
    model.apply([state_event("a", S.FAILED, 12, reason=Reason.TOS_BLOCK, detail=detail)])
    model.tick(utcnow() + timedelta(minutes=10))
    view.refresh()
    tile = view.tile("a")
    assert tile is not None and model.entry_for("a").phase == Phase.BLOCKED
    assert "TOS_BLOCK" in tile.message.text() and tile.dismiss_button.isVisible()
    tile.dismiss_button.click()
    assert model.entry_for("a") is None
    # Any other failure leaves the wall as before (the grid says why).
    model.apply([qr_event("a", 12)])
    model.apply([state_event("a", S.FAILED, 12, reason=Reason.QR_LIMIT)])
    assert model.entry_for("a") is None


def test_focus_mode_shows_the_code_and_c_asks_for_one(qtbot):
    sessions = SessionsModel()
    sessions.load([SessionInfo(session_id="a", workspace_id=12, label="Toko Maju")])
    model = QrWallModel(sessions)
    focus = FocusView(model)
    qtbot.addWidget(focus)
    focus.resize(1200, 800)
    focus.show()
    model.apply([qr_event("a", 12)])
    focus.refresh()
    with qtbot.waitSignal(focus.sig_pairing_code_requested) as asked:
        qtbot.keyClick(focus, Qt.Key.Key_C)
    assert asked.args == ["a"]
    model.apply([_code("a")])
    focus.refresh()
    assert focus.code.isVisible() and not focus.qr.isVisible()
    assert "read the code to the customer" in focus.state_line.text()


def test_the_grid_shows_the_proxy_and_why(qtbot, host, fake_engine, settings, monkeypatch):
    fake_engine.sessions = {
        "a": SessionInfo(
            session_id="a",
            workspace_id=12,
            label="Toko",
            state=S.PASSKEY_REQUIRED,
            reason=Reason.PASSKEY_REQUIRED,
            proxy="http://alice@proxy.example.com:3128",
            phone_number=PHONE,
        )
    }
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.sessions.load(list(fake_engine.sessions.values()))
    model = window.sessions
    assert model.data(model.index(0, Col.PROXY)) == "http://alice@proxy.example.com:3128"
    tip = model.data(model.index(0, Col.STATE), Qt.ItemDataRole.ToolTipRole)
    assert "passkey needed (passkey_required)" in tip
    assert reason_message(Reason.PASSKEY_REQUIRED) in tip
    # The operator sets a proxy for the account: the engine gets it, the grid shows it.
    monkeypatch.setattr("app.ui.main_window.proxy_input", lambda *a: "http://bob:pw@10.0.0.1:8080")
    window.act("set_proxy", ["a"])
    qtbot.waitUntil(lambda: model.row_for("a").proxy == "http://10.0.0.1:8080", timeout=5000)
    assert ("set_proxy", ("a", "http://bob:pw@10.0.0.1:8080")) in fake_engine.calls
    # A pairing code is asked for the account's own number, as the operator confirmed it.
    monkeypatch.setattr("app.ui.main_window.phone_input", lambda parent, name, current: current)
    window.act("request_pairing_code", ["a"])
    qtbot.waitUntil(lambda: ("request_pairing_code", ("a", PHONE)) in fake_engine.calls)
    window.act("open_window", ["a"])
    qtbot.waitUntil(lambda: ("open_window", "a") in fake_engine.calls)


def test_gates_that_need_someone_now_are_notified(qtbot):
    from PySide6.QtWidgets import QWidget

    from app.ui.notifier import Notifier
    from app.ui.window_parts import app_icon

    sessions = SessionsModel()
    sessions.load([SessionInfo(session_id="a", workspace_id=12, label="Toko Maju")])
    parent = QWidget()
    qtbot.addWidget(parent)
    notifier = Notifier(parent, app_icon())
    notifier.note([state_event("a", S.PASSKEY_REQUIRED, 12)], sessions)
    notifier.note([state_event("a", S.FAILED, 12, reason=Reason.TOS_BLOCK)], sessions)
    notifier.note([state_event("a", S.FAILED, 12, reason=Reason.QR_LIMIT)], sessions)
    assert [title for title, _ in notifier.sent] == [
        "Toko Maju needs its passkey (open it in a window)",
        "Toko Maju banned",
    ]
