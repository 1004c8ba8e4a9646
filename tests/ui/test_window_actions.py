"""The window's test-phone and Diagnose handlers, through the window that owns them."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.domain.models import SessionInfo
from app.ui.main_window import MainWindow
from tests.ui.fakes import qr_event

QR = "2@Xy7Qm+9/abcDEFghiJKL==,k3yB64part+/==,anotherPart0123==,lastPart=="


def _window(qtbot, host, settings, **kwargs) -> MainWindow:
    window = MainWindow(host, settings=settings, **kwargs)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    return window


def test_scan_on_a_tile_posts_the_painted_qr_with_the_accounts_phone(qtbot, host, settings):
    posted: list[tuple[str, str]] = []

    async def poster(qr: str, phone: str) -> None:
        posted.append((qr, phone))

    window = _window(qtbot, host, settings, scan_poster=poster)
    window.sessions.load([SessionInfo(session_id="a", workspace_id=12, phone_number="62811")])
    window.wall_model.apply([qr_event("a", 12, qr=QR)])
    window.wall.refresh()
    qtbot.mouseClick(window.wall.tile("a").scan_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(posted), timeout=5000)
    assert posted == [(QR, "62811")]


def test_code_entry_without_a_sandbox_says_so_where_the_operator_looks(qtbot, host, settings):
    window = _window(qtbot, host, settings)
    window.sandbox_url = ""
    window.test_phone.enter_code("a", "ABCD-EFGH", "62811")
    assert "No sandbox test phone is running" in window.statusBar().currentMessage()


def test_diagnose_session_opens_the_timeline_tab(qtbot, host, settings):
    window = _window(qtbot, host, settings)
    window.diagnose_session("a")
    assert window.stack.currentIndex() == 4
    assert window.diagnostics.tabs.currentIndex() == 0
