"""The bench's arithmetic and report pieces, without any browser."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import psutil
import pytest

from app.bench._harness import (
    MemoryFloor,
    ProcessTracker,
    ScenarioResult,
    guarded,
    memory_low,
    percentile,
    render_table,
    summary,
)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert percentile(list(range(101)), 95) == 95
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_of_an_empty_sample_says_so() -> None:
    assert summary([]) == {"n": 0}
    stats = summary([10.0, 20.0, 30.0])
    assert stats["n"] == 3 and stats["p50"] == 20.0 and stats["max"] == 30.0


def test_skipped_and_failed_scenarios_carry_their_reason() -> None:
    skipped = ScenarioResult("grid", status="skipped", reason="no display library")
    assert skipped.to_json()["skipped"] == "no display library"
    failed = ScenarioResult("memory", status="failed", reason="boom")
    assert failed.to_json()["error"] == "boom"


def test_table_lists_each_figure_and_each_skip() -> None:
    ok = ScenarioResult("qr-latency")
    ok.row("add -> QR p50", "80 ms", "< 150 ms")
    skipped = ScenarioResult("capacity", status="skipped", reason="engine not ready")
    table = render_table([ok, skipped])
    assert "add -> QR p50" in table and "80 ms" in table
    assert "SKIPPED" in table and "engine not ready" in table


def test_tracker_ends_the_processes_it_saw_and_only_those() -> None:
    tracker = ProcessTracker(interval=0.05)
    tracker.start()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tracker.sample()
        report = tracker.cleanup(grace=5)
        assert report["left_at_end"] >= 1
        assert report["surviving_cleanup"] == 0
        assert child.wait(timeout=5) is not None
    finally:
        if child.poll() is None:
            child.kill()
    assert psutil.Process().is_running()


def test_guarded_returns_the_work_while_memory_is_fine() -> None:
    async def work() -> int:
        return 7

    assert asyncio.run(guarded(work(), floor=0.0)) == 7


def test_guarded_stops_the_work_when_memory_runs_short() -> None:
    stopped: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.append(True)

    with pytest.raises(MemoryFloor, match="available memory"):
        asyncio.run(guarded(forever(), floor=1.01, interval=0.01))  # never enough
    assert stopped == [True]
    assert memory_low(1.01) and not memory_low(0.0)


def test_the_table_has_a_verdict_column_against_each_target() -> None:
    from app.bench._harness import ScenarioResult, render_table

    result = ScenarioResult("restore")
    result.row("200 sessions restored", "41.0 s", "200 in < 60 s", met=True)
    result.row("QR codes during restore", "2", "0", met=False)
    result.row("engine up / then all back", "3 s / 38 s", "")
    lines = render_table([result]).splitlines()
    assert lines[0].split()[-1] == "verdict"
    assert lines[2].endswith("met") and lines[3].endswith("missed")
    assert not lines[4].endswith(("met", "missed"))
    assert result.to_json()["verdicts"] == {
        "200 sessions restored": "met",
        "QR codes during restore": "missed",
    }


def test_qt_messages_of_the_bench_go_to_the_log_not_the_terminal(capfd, caplog) -> None:
    import logging

    from PySide6.QtCore import qWarning

    from app.ui.bench_probes import qt_app

    qt_app()
    with caplog.at_level(logging.DEBUG, logger="qt"):
        qWarning("This plugin does not support propagateSizeHints()")
    assert "propagateSizeHints" not in capfd.readouterr().err
    assert any("propagateSizeHints" in r.getMessage() for r in caplog.records)
