"""EngineHost with a FakeEngine, the main window, onboarding rows and the bundle."""

from __future__ import annotations

import zipfile

from app.domain.events import SessionHeartbeat
from app.domain.import_rows import parse_text
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.ui.main_window import MainWindow
from tests.ui.fakes import qr_event

S = SessionState


def test_host_batches_events_and_runs_operations(qtbot, host, fake_engine):
    batches: list[list] = []
    host.sig_session_events.connect(batches.append)
    fake_engine.push(*[SessionHeartbeat(session_id=f"s{i}", latency_ms=1) for i in range(200)])
    qtbot.waitUntil(lambda: sum(len(b) for b in batches) == 200)
    assert len(batches) < 20  # coalesced, not one signal per event
    done = []
    with qtbot.waitSignal(host.sig_operation_failed, raising=False, timeout=200):
        host.op(lambda e: e.restart_session("s1")).success(done.append).run()
    qtbot.waitUntil(lambda: done == [None])
    assert ("restart_session", "s1") in fake_engine.calls


def test_host_close_calls_aclose(qtbot, host, fake_engine):
    host.close()
    assert fake_engine.closed


def test_window_shows_qr_and_grid_counts(qtbot, host, fake_engine, settings):
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    fake_engine.push(qr_event("w1", 5))
    qtbot.waitUntil(lambda: window.wall.tile("w1") is not None)
    assert "1" in window.nav.item(0).text()
    window.grid.table.selectAll()
    window.grid.sig_action_requested.emit("stop", window.grid.selected_ids())
    qtbot.waitUntil(lambda: ("stop_session", "w1") in fake_engine.calls)


def test_csv_import_reports_each_bad_row():
    rows = parse_text(
        "workspace_id,label,phone\n12,Toko,+62 811 2233 4410\nabc,X,\n"
        "12,Toko,6281122334410\n7,Y,12ab\n,Z,\n"
    )
    assert [r.ok for r in rows] == [True, False, False, False, False]
    assert rows[1].error == "row 3: workspace_id 'abc' is not a number"
    assert "duplicate of row 2" in rows[2].error
    assert rows[3].error.startswith("row 5: phone '12ab'")
    assert rows[4].error == "row 6: workspace_id is empty"


def test_onboarding_view_creates_nothing_until_confirmed(qtbot, host, fake_engine, settings):
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.onboarding.load_text("workspace_id,label\n1,A\nx,B\n2,C\n")
    assert window.onboarding.start.text() == "Start scanning 2 accounts"
    assert not any(c[0] == "add_accounts" for c in fake_engine.calls)
    window.onboarding.start.click()
    qtbot.waitUntil(lambda: window.onboarding.run is not None)
    created = next(c for c in fake_engine.calls if c[0] == "add_accounts")
    assert [s.workspace_id for s in created[1]] == [1, 2]
    assert fake_engine.add_started is False  # QRs open only as staff get to them
    assert "0 / 2 connected" in window.onboarding.run.summary()


def test_diagnostics_bundle_has_no_secret(qtbot, host, fake_engine, settings, tmp_path):
    fake_engine.sessions["x"] = SessionInfo(
        session_id="x", workspace_id=1, state=S.QR, qr="2@QRSECRETREFxxxxxxxxxxxxxxxxxxxxx,k,k"
    )
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.instances.load([])
    path = tmp_path / "bundle.zip"
    window.diagnose.export_bundle(path)
    qtbot.waitUntil(path.exists)
    blob = b""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            blob += zf.read(name)
    assert b"sessions.json" not in blob and b'"x"' in blob
    for secret in (b"SUPER-SECRET-VALUE", b"SECRET-TOKEN-123", b"QRSECRETREF"):
        assert secret not in blob


def test_sync_tab_retries_selected_dead_rows_and_all(qtbot, host, fake_engine, settings):
    from app.demo.data import demo_outbox

    fake_engine.outbox = demo_outbox()
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    window.show_view(4, tab=1)
    d = window.diagnostics
    qtbot.waitUntil(lambda: d.outbox_model.rowCount() == 4)
    assert "2 pending" in d.outbox_summary.text() and "2 dead" in d.outbox_summary.text()
    assert not d.retry_selected.isEnabled() and d.retry_all.isEnabled()
    d.outbox.selectRow(2)  # a dead row
    assert d.retry_selected.isEnabled() and "HTTP 422" in d.outbox_detail.text()
    d.retry_selected.click()
    dead_id = str(fake_engine.outbox[2].event_id)
    qtbot.waitUntil(lambda: ("retry_outbox", [dead_id]) in fake_engine.calls)
    d.retry_all.click()
    qtbot.waitUntil(lambda: ("retry_outbox", []) in fake_engine.calls)
