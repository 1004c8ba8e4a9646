"""The QR wall: the expected phone on each tile, "Scan with test phone" in focus mode
(sandbox), and a denser wall whose codes still decode from a screenshot shrunk to two
thirds (about what a phone at arm's length resolves)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QRect, Qt

from app.domain.models import SessionInfo
from app.ui.engine_host import EngineHost
from app.ui.main_window import MainWindow
from app.ui.qr_render import _module_image
from tests.ui.fakes import FakeEngine, qr_event

zxingcpp = pytest.importorskip("zxingcpp")


def _real_length_qr(n: int) -> str:
    """A QR string the size of the real site's (about 77 modules with the quiet zone)."""
    parts = [base64.b64encode(secrets.token_bytes(k)).decode() for k in (150, 32, 32, 16)]
    return f"2@{n:03d}" + parts[0][:197] + "," + ",".join(parts[1:])


@pytest.fixture
def wall(qtbot, settings):
    sessions = [
        SessionInfo(session_id=f"s{n}", workspace_id=n, label=f"Shop {n}", phone_number="")
        for n in range(12)
    ]
    sessions[0] = SessionInfo(
        session_id="s0", workspace_id=0, label="Shop 0", phone_number="6281122334410"
    )
    engine = FakeEngine(sessions=sessions)
    host = EngineHost(lambda: engine, interval_ms=10)
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    host.start()
    window.resize(1440, 900)
    window.show()
    qtbot.waitUntil(lambda: window.sessions.rowCount() == 12, timeout=10_000)
    codes = {f"s{n}": _real_length_qr(n) for n in range(12)}
    assert {_module_image(c).width() for c in codes.values()} == {77}
    engine.push(*(qr_event(sid, int(sid[1:]), qr=qr, life=600) for sid, qr in codes.items()))
    qtbot.waitUntil(lambda: len(window.wall.tiles()) == 12, timeout=10_000)
    window.wall.refresh()
    yield window, codes
    host.close()


def _fully_visible(window: MainWindow) -> list[str]:
    viewport = window.wall._scroll.viewport()
    seen = QRect(0, 0, viewport.width(), viewport.height())
    out = []
    for tile in window.wall.tiles():
        top_left = tile.mapTo(viewport, tile.rect().topLeft())
        if seen.contains(QRect(top_left, tile.size())):
            out.append(tile.session_id)
    return out


def test_tile_shows_the_expected_phone(wall) -> None:
    window, _codes = wall
    tile = window.wall.tile("s0")
    assert tile is not None and tile.expected.text() == "for +62 811 2233 4410"
    assert tile.expected.isVisibleTo(tile)
    other = window.wall.tile("s1")
    assert other is not None and not other.expected.isVisibleTo(other)


def test_compact_wall_shows_more_tiles_that_decode_at_two_thirds_size(qtbot, wall, tmp_path: Path):
    """Compact codes (3-px modules) must decode from a screenshot shrunk to two thirds
    (2 px per module, about what a phone at arm's length resolves), whatever pixel
    phase the shrinking lands on. At half size (1.5 px per module) they decode only on
    even phases (measured: 13 to 59 of 60 random codes failed on odd ones), so half
    size is not claimed."""
    window, codes = wall
    qtbot.wait(50)
    normal = _fully_visible(window)
    window.wall.compact.setChecked(True)
    qtbot.waitUntil(lambda: len(_fully_visible(window)) > len(normal), timeout=10_000)
    compact = _fully_visible(window)
    shot = window.grab().toImage()
    for phase in (0, 1):  # the code may start on an even or an odd pixel
        part = shot.copy(phase, phase, shot.width() - phase, shot.height() - phase)
        small = part.scaled(
            part.width() * 2 // 3,
            part.height() * 2 // 3,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        path = tmp_path / f"wall-two-thirds-{phase}.png"
        small.save(str(path))
        image = Image.open(path)
        for sid in compact:  # a phone points at one tile: decode each tile's part of the shot
            tile = window.wall.tile(sid)
            assert tile is not None
            top_left = tile.mapTo(window, tile.rect().topLeft())
            box = (
                (top_left.x() - phase) * 2 // 3,
                (top_left.y() - phase) * 2 // 3,
                (top_left.x() - phase + tile.width()) * 2 // 3,
                (top_left.y() - phase + tile.height()) * 2 // 3,
            )
            found = [r.text for r in zxingcpp.read_barcodes(image.crop(box))]
            assert found == [codes[sid]], (sid, phase)
    print(f"1440x900: {len(normal)} tiles, compact {len(compact)}, all decoded at 2/3 size")


def test_focus_mode_scans_with_the_test_phone_in_sandbox_mode(qtbot, wall) -> None:
    window, codes = wall
    window.enter_focus()
    focus = window.focus
    qtbot.waitUntil(lambda: bool(focus.current_id), timeout=10_000)
    assert focus.scan_button.isVisibleTo(focus)
    with qtbot.waitSignal(focus.sig_scan_requested, timeout=5000) as blocker:
        focus.scan_button.click()
    sid, view = blocker.args
    assert sid == focus.current_id and view is focus.qr
    from app.ui.test_phone import decode_widget

    assert decode_widget(view) == codes[sid]
