"""`pairdesk bench --quick` end to end: it runs, cleans up and writes a report
of the documented shape. Numbers are never checked here (timing thresholds
do not belong in tests); only that every figure is there and of its type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.bench import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "bench", "--quick", "--json", str(out)],
        cwd=tmp_path_factory.mktemp("cwd"),
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "scenario" in proc.stdout  # the table was printed
    return json.loads(out.read_text(encoding="utf-8"))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _latency(stats: dict) -> None:
    assert _number(stats["n"])
    if stats["n"]:
        for key in ("p50", "p95", "min", "max", "mean"):
            assert _number(stats[key]), key


def test_report_describes_the_machine_and_version(report: dict) -> None:
    assert isinstance(report["pairdesk_version"], str) and report["pairdesk_version"]
    machine = report["machine"]
    assert isinstance(machine["cpu_count"], int) and machine["cpu_count"] > 0
    assert isinstance(machine["memory_total_bytes"], int) and machine["memory_total_bytes"] > 0
    assert report["quick"] is True


def test_every_scenario_is_reported_once_ran_or_skipped_with_a_reason(report: dict) -> None:
    names = [s["name"] for s in report["scenarios"]]
    assert names == list(SCENARIOS)
    for scenario in report["scenarios"]:
        assert scenario["status"] in ("ok", "skipped"), scenario
        assert _number(scenario["duration_s"])
        assert isinstance(scenario["figures"], dict)
        if scenario["status"] == "skipped":
            assert isinstance(scenario["skipped"], str) and scenario["skipped"]


def test_no_process_the_bench_started_is_left(report: dict) -> None:
    cleanup = report["cleanup"]
    assert cleanup["chromium_surviving_cleanup"] == 0
    assert cleanup["surviving_cleanup"] == 0
    assert cleanup["processes_started"] > 0


def _figures(report: dict, name: str) -> dict | None:
    (scenario,) = [s for s in report["scenarios"] if s["name"] == name]
    return scenario["figures"] if scenario["status"] == "ok" else None


def test_latency_scenarios_have_their_figures(report: dict) -> None:
    qr = _figures(report, "qr-latency")
    if qr is not None:
        for design in ("warm", "cold", "replaced"):
            _latency(qr[design]["to_event_ms"])
            _latency(qr[design]["to_painted_ms"])  # painted in the console's QR wall
        assert _number(qr["seed_system_ms"])
    hook = _figures(report, "webhook-latency")
    if hook is not None:
        _latency(hook["latency_ms"])
        for key in ("qr_issued", "webhooks_received", "webhooks_matched", "rejected_by_central"):
            assert isinstance(hook[key], int), key
        _latency(hook["sync_only"]["event_to_received_ms"])  # the sync path alone


def test_memory_restore_capacity_have_their_figures(report: dict) -> None:
    memory = _figures(report, "memory")
    if memory is not None:
        for design in ("context", "replaced"):
            for step in memory["steps"]:
                sample = memory[design][str(step)]
                assert isinstance(sample["pss_bytes"], int)
                assert isinstance(sample["per_session_bytes"], int)
        assert _number(memory["ratio_context_to_replaced"])
    restore = _figures(report, "restore")
    if restore is not None:
        assert _number(restore["restore_s"])
        assert isinstance(restore["qr_during_restore"], int)
        assert isinstance(restore["conflicts"], int)
    capacity = _figures(report, "capacity")
    if capacity is not None:
        assert isinstance(capacity["sessions_connected"], int)
        assert capacity["limit"] in ("cap", "memory", "cpu", "heartbeat")
        assert isinstance(capacity["stop_reason"], str) and capacity["stop_reason"]
        for step in capacity["steps"]:
            for key in ("cpu_percent_idle", "heartbeat_p95_ms", "pss_bytes"):
                assert _number(step[key]), key


def test_console_scenarios_have_their_figures(report: dict) -> None:
    grid = _figures(report, "grid")
    if grid is not None:
        assert grid["rows"] == 3000
        for key in ("longest_stall_ms", "longest_stall_gui_cpu_ms", "longest_cpu_stall_ms"):
            assert _number(grid[key]), key
        _latency(grid["frame_ms"])
        _latency(grid["frame_gui_cpu_ms"])
    onboarding = _figures(report, "onboarding")
    if onboarding is not None:
        assert _number(onboarding["accounts_per_minute"])
        _latency(onboarding["operator_wait_ms"])
        _latency(onboarding["create_to_first_qr_painted_ms"])
        _latency(onboarding["painted_to_scan_posted_ms"])


def test_page_weight_and_verdicts_have_their_shape(report: dict) -> None:
    for scenario in report["scenarios"]:
        assert scenario["page_weight"] in ("light", "real")
        assert scenario["load"] == 0
        for key in ("start", "end"):
            assert len(scenario["load_average"][key]) == 3  # as `uptime` prints them
        wait = scenario["quiet_wait"]  # how busy the machine was when the run started
        assert isinstance(wait["quiet"], bool)
        assert _number(wait["waited_s"]) and _number(wait["cpu_busy_percent_at_start"])
    weights = _figures(report, "page-weight")
    if weights is not None:
        for weight in ("light", "real"):
            for key in ("renderer_pss_bytes", "js_heap_used_bytes", "indexeddb_bytes"):
                assert isinstance(weights[weight][key], int), key
        # Behaviour, not timing: the real weight really stores more and keeps a DOM.
        assert weights["real"]["indexeddb_bytes"] > weights["light"]["indexeddb_bytes"]
        assert weights["real"]["dom_nodes"] > weights["light"]["dom_nodes"]
    assert report["page_weights"] == ["light"] and report["load"] == 0
    for verdict in report["verdicts"]:
        assert set(verdict) == {"target", "run", "measured", "verdict"}
        assert verdict["verdict"] in ("met", "missed", "not run") or verdict["verdict"].startswith(
            "quiet only"
        )
