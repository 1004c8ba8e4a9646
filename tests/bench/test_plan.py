"""The bench's run plan (--page-weight, --load), its labels, and the verdicts."""

from __future__ import annotations

from app.bench._context import BenchOptions
from app.bench._harness import ScenarioResult, summary
from app.bench._load import busy_loops
from app.bench._runner import _started_on, plan, run_label
from app.bench.verdicts import TARGETS, judge


def test_weighted_scenarios_run_per_weight_and_latency_ones_quiet_then_loaded() -> None:
    options = BenchOptions(page_weights=("light", "real"), load=2)
    runs = plan(options, ["qr-latency", "memory", "page-weight", "grid"])
    assert runs == [
        ("qr-latency", "light", 0),
        ("qr-latency", "light", 2),
        ("memory", "light", 0),
        ("memory", "real", 0),
        ("page-weight", "light", 0),
        ("grid", "light", 0),
        ("grid", "light", 2),
    ]
    assert plan(BenchOptions(), ["memory", "grid"]) == [
        ("memory", "light", 0),
        ("grid", "light", 0),
    ]
    assert run_label("memory", "real", 0) == "memory [real]"
    assert run_label("grid", "light", 2) == "grid [load 2]"


def test_verdicts_judge_the_right_run_and_never_guess() -> None:
    quiet = ScenarioResult("grid", scenario="grid", figures={"longest_stall_ms": 30.0})
    loaded = ScenarioResult(
        "grid [load 2]", scenario="grid", load=2, figures={"longest_stall_ms": 80.0}
    )
    warm = ScenarioResult(
        "qr-latency", scenario="qr-latency", figures={"warm": {"to_painted_ms": {"p50": 40.0}}}
    )
    restore = ScenarioResult(
        "restore",
        scenario="restore",
        figures={"sessions": 300, "restore_s": 55.0, "qr_during_restore": 1, "conflicts": 0},
    )
    warm_loaded = ScenarioResult(
        "qr-latency [load 2]",
        scenario="qr-latency",
        load=2,
        figures={"warm": {"to_painted_ms": {"p50": 90.0}}},
    )
    verdicts = {v["target"]: v for v in judge([quiet, loaded, warm, warm_loaded, restore])}
    assert len(verdicts) == len(TARGETS)
    grid = verdicts["grid's longest stall < 50 ms under load"]
    assert grid["run"] == "grid [load 2]" and grid["verdict"] == "missed"  # the loaded run
    warm_qr = verdicts["warm QR p50 < 50 ms"]
    assert warm_qr["run"] == "qr-latency" and warm_qr["verdict"] == "met"  # the quiet run
    # Fast but a QR was shown: a lost login is never "met".
    assert verdicts["restore 300 in < 60 s, 0 QR, 0 conflicts (light)"]["verdict"] == "missed"
    assert verdicts[">= 120 connected, heartbeat p95 < 1 s (real)"]["verdict"] == "not run"
    only_quiet = {v["target"]: v for v in judge([quiet])}
    assert only_quiet["grid's longest stall < 50 ms under load"]["verdict"].startswith("quiet only")


def test_onboarding_is_met_only_when_every_scan_found_the_next_qr_there() -> None:
    def onboarding(waits: list[float]) -> ScenarioResult:
        stats = summary(waits)
        figures = {"operator_wait_ms": stats, "waits_zero": waits.count(0.0)}
        return ScenarioResult("onboarding", scenario="onboarding", figures=figures)

    target = "scan ok -> next QR on screen: 0 (already there)"
    one_wait = [0.0] * 48 + [60.0]  # p95 0, yet one operator waited
    verdict = {v["target"]: v for v in judge([onboarding(one_wait)])}[target]
    assert verdict["verdict"] == "missed"
    assert verdict["measured"] == "48 of 49 already there; longest wait 60 ms"
    none = {v["target"]: v for v in judge([onboarding([0.0] * 49)])}[target]
    assert none["verdict"] == "met"


def test_a_run_line_says_when_the_machine_was_busy_or_waited_for() -> None:
    def line(waited_s: float, *, quiet: bool, busy: float) -> str:
        result = ScenarioResult("restore", scenario="restore")
        result.quiet_wait = {
            "waited_s": waited_s,
            "quiet": quiet,
            "cpu_busy_percent_at_start": 97.0,
            "cpu_busy_percent_at_end": busy,
        }
        return _started_on(result)

    assert line(3.0, quiet=True, busy=4.0) == ""  # nothing worth saying
    assert line(21.5, quiet=True, busy=12.0) == "; waited 22 s for the cores to go quiet"
    assert line(60.2, quiet=False, busy=88.4) == "; started on a busy machine, CPU 88% busy"
    assert _started_on(ScenarioResult("grid")) == ""  # no wait recorded


def test_busy_loops_run_for_the_block_and_are_ended() -> None:
    import psutil

    with busy_loops(2) as pids:
        procs = [psutil.Process(pid) for pid in pids]
        assert len(procs) == 2 and all(p.is_running() for p in procs)
    for proc in procs:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE


def test_busy_loops_run_in_sessions_of_their_own() -> None:
    import os

    with busy_loops(2) as pids:
        assert all(os.getsid(pid) == pid != os.getsid(0) for pid in pids)


def test_restore_brings_back_300_light_and_at_most_130_real_sessions() -> None:
    assert BenchOptions().restore_count() == 300
    assert BenchOptions(sessions=50).restore_count() == 50
    assert BenchOptions(sessions=500).restore_count() == 300
    assert BenchOptions(page_weight="real").restore_count() == 130
    assert BenchOptions(page_weight="real", sessions=40).restore_count() == 40
    assert BenchOptions(quick=True, page_weight="real").restore_count() == 2
