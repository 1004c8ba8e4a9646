"""Diagnose › Events: live rows from the engine, filter by session and type, pause
without losing events, JSON on demand (QR strings only as their length), export."""

from __future__ import annotations

import json

from app.domain.events import SessionHeartbeat
from app.domain.states import SessionState as S
from app.ui.main_window import MainWindow
from tests.ui.fakes import qr_event, state_event


def test_events_stream_filter_pause_json_and_export(qtbot, host, fake_engine, settings, tmp_path):
    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    monitor = window.diagnostics.events
    fake_engine.push(
        state_event("alpha", S.STARTING),
        qr_event("alpha", qr="2@SECRET-REF,key,key"),
        SessionHeartbeat(session_id="alpha", latency_ms=12.0),
        state_event("beta", S.CONNECTED, ws=2),
    )
    qtbot.waitUntil(lambda: monitor.model.rowCount() == 3, timeout=10_000)  # heartbeat hidden
    assert [monitor.model.display(r, 1) for r in range(3)] == ["state", "qr", "state"]
    assert monitor.model.display(2, 2) == "beta"
    assert "state=connected" in monitor.model.display(2, 3)

    monitor.session_filter.setText("alp")
    assert monitor.model.rowCount() == 2
    monitor.type_filter.setCurrentText("heartbeat")
    assert monitor.model.rowCount() == 1  # asked for by type: shown
    monitor.type_filter.setCurrentText("qr")
    monitor.table.selectRow(0)
    shown = json.loads(monitor.json.toPlainText())
    assert shown["type"] == "qr" and shown["session_id"] == "alpha"
    assert "SECRET-REF" not in monitor.json.toPlainText()
    assert shown["qr"] == "(QR, 20 characters)"

    monitor.type_filter.setCurrentText("all types")
    monitor.session_filter.clear()
    monitor.pause.click()
    fake_engine.push(state_event("gamma", S.STARTING, ws=3))
    qtbot.waitUntil(lambda: "1 new held back" in monitor.status.text(), timeout=10_000)
    assert monitor.model.rowCount() == 3
    monitor.pause.click()
    assert monitor.model.rowCount() == 4 and monitor.model.display(3, 2) == "gamma"

    out = tmp_path / "events.jsonl"
    assert monitor.export(out) == 4
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["session_id"] for line in lines] == ["alpha", "alpha", "beta", "gamma"]
    assert "SECRET-REF" not in out.read_text()
