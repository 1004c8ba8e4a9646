"""The console on the REAL engine and sandbox: QR wall -> screenshot -> test phone -> grid.

What a support agent does, end to end: accounts are added, their QRs appear
on the wall, each QR is read off the wall's own pixels (as a phone camera
would), scanned with the sandbox test phone, and the health grid shows every
account connected with its phone number. Closing the console leaves no
instance or Chromium behind.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
import psutil
import pytest
import zxingcpp

from app.bootstrap import open_engine
from app.config import Settings
from app.domain.models import AccountSpec
from app.domain.states import SessionState
from app.ui.engine_host import EngineHost
from app.ui.main_window import MainWindow
from app.ui.sessions_model import Col
from app.ui.test_phone import image_to_pil

pytestmark = pytest.mark.e2e

LABELS = ("Toko Maju", "Klinik Sehat", "Kopi Kita")
PHONES = ("6281100000011", "6281100000022", "6281100000033")


def _settings(tmp_path: Path) -> Settings:
    return Settings.load(
        environ={},
        cwd=tmp_path,
        flags={
            "data_dir": tmp_path / "data",
            "sessions_dir": tmp_path / "sessions",
            "instances": 1,
            "max_sessions": 10,
            "time_scale": 0.3,
            "warm_pool": 1,
        },
    )


def _descendants() -> dict[int, psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return {p.pid: p for p in psutil.Process().children(recursive=True)}
    return {}


def _alive(procs: dict[int, psutil.Process]) -> list[str]:
    out = []
    for proc in procs.values():
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{proc.pid} {proc.name()}")
    return out


def test_wall_qrs_scanned_from_the_screen_connect_in_the_grid(qtbot, tmp_path):
    settings = _settings(tmp_path)
    host = EngineHost(lambda: open_engine(settings))
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.resize(1440, 900)
    seen: dict[int, psutil.Process] = {}
    try:
        with qtbot.waitSignal(host.sig_sessions_loaded, timeout=90_000):
            host.start()
        window.show()
        window.show_view(0)
        assert window.sandbox_url, "sandbox mode reports the test phone's URL"

        specs = [AccountSpec(workspace_id=20 + k, label=label) for k, label in enumerate(LABELS)]
        added: list = []
        host.op(lambda e: e.add_accounts(specs), "add").success(added.extend).run()
        wall = window.wall_model

        def every_tile_shows_a_live_qr() -> bool:
            entries = wall.entries()
            return len(entries) == len(LABELS) and all(
                e.qr and e.remaining() > 2 and e.label for e in entries
            )

        qtbot.waitUntil(lambda: len(added) == len(LABELS), timeout=90_000)
        qtbot.waitUntil(every_tile_shows_a_live_qr, timeout=90_000)
        # Labels are on the wall and in the grid as soon as the QRs are.
        assert sorted(e.label for e in wall.entries()) == sorted(LABELS)
        grid_labels = {window.sessions.row_at(r).label for r in range(window.sessions.rowCount())}
        assert set(LABELS) <= grid_labels
        seen.update(_descendants())

        window.wall.refresh()  # grab() paints the tiles as they are now
        shot = window.wall.grab().toImage()
        decoded = zxingcpp.read_barcodes(image_to_pil(shot), formats=zxingcpp.BarcodeFormat.QRCode)
        texts = sorted({r.text for r in decoded})
        on_wall = sorted(e.qr for e in wall.entries())
        assert texts == on_wall, "every QR on the wall decodes from the screenshot"

        by_qr = {e.qr: e.session_id for e in wall.entries()}
        phone_of = {}
        for qr, phone in zip(texts, PHONES, strict=True):
            response = httpx.post(
                f"{window.sandbox_url.rstrip('/')}/phone/scan",
                json={"qr": qr, "phone": phone},
                timeout=10,
            )
            assert response.status_code < 300, response.text
            phone_of[by_qr[qr]] = phone

        model = window.sessions

        def all_connected() -> bool:
            for sid, phone in phone_of.items():
                row = model.row_for(sid)
                if row is None or row.state is not SessionState.CONNECTED:
                    return False
                if row.phone.lstrip("+") != phone:
                    return False
            return True

        qtbot.waitUntil(all_connected, timeout=90_000)
        for sid, phone in phone_of.items():
            i = model.row_of(sid)
            shown = model.data(model.index(i, Col.PHONE))
            assert shown.replace(" ", "").lstrip("+").endswith(phone[-4:])
            assert model.data(model.index(i, Col.STATE)) == "connected"
        seen.update(_descendants())
        assert any("chrom" in p.name().lower() for p in seen.values() if _alive({0: p}))
    finally:
        window.close()
        host.close(timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (_alive(seen) or _alive(_descendants())):
        time.sleep(0.2)
    assert not _alive(seen), "every instance and Chromium has stopped"
    assert not _alive(_descendants())
