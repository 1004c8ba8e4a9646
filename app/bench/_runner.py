"""Run the chosen scenarios one after the other, then clean up and report.

Each async scenario gets a fresh event loop and a time limit; a Qt scenario
runs on this (the main) thread. A scenario that cannot run is reported
`skipped` with its reason; one that breaks is reported `failed` with the
error, and the run goes on. Whatever happens, every process the bench
started is ended (by pid, see `ProcessTracker`) before the report is written.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.bench._context import BenchContext, BenchOptions
from app.bench._harness import ProcessTracker, ScenarioResult, Skip, machine_info, render_table
from app.bench._load import busy_loops, load_average
from app.bench._quiet import LIMIT_S as QUIET_LIMIT_S
from app.bench._quiet import wait_for_quiet
from app.bench.verdicts import judge, render_verdicts

__all__ = ["SCENARIOS", "run_bench"]

log = logging.getLogger(__name__)

# name -> module under app.bench, in the order a run goes through them
SCENARIOS: dict[str, str] = {
    "qr-latency": "qr_latency",
    "webhook-latency": "webhook_latency",
    "page-weight": "page_weight",
    "memory": "memory",
    "capacity": "capacity",
    "restore": "restore",
    "onboarding": "onboarding",
    "grid": "grid",
    "fleet": "fleet",
}

WEIGHTED = ("memory", "capacity", "restore")
"""Scenarios run once per --page-weight (page-weight measures both weights itself)."""
LOADED = ("qr-latency", "webhook-latency", "onboarding", "grid")
"""Scenarios run quiet and then with --load N busy loops, side by side."""

FULL_LIMIT_S = 1800.0
QUICK_LIMIT_S = 100.0
QUICK_QUIET_LIMIT_S = 1.0
"""A smoke run only reads how busy the machine is (one second); it does not wait for it."""
QUIET_WAIT_WORTH_SAYING_S = 5.0


def run_bench(
    options: BenchOptions,
    names: Sequence[str],
    *,
    json_path: Path | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Run `names`; print the table; write the JSON report. 0 unless a scenario failed."""
    tracker = ProcessTracker()
    tracker.start()
    scratch = Path(tempfile.mkdtemp(prefix="pairdesk-bench-"))
    options = _with_scratch(options, scratch, tuple(names))
    chromium_path, session_browser = _chromium(options)
    ctx = BenchContext(options=options, tracker=tracker, chromium_path=chromium_path)
    report: dict[str, Any] = {"machine": machine_info(), "quick": options.quick}
    report["pairdesk_version"] = report["machine"]["pairdesk_version"]
    report["page_weights"] = list(options.page_weights)
    report["load"] = options.load
    report["session_browser"] = session_browser
    started = time.perf_counter()
    results: list[ScenarioResult] = []
    interrupted = ""
    previous = _terminate_as_interrupt()
    try:
        for name, weight, load in plan(options, names):
            ctx.options = replace(options, page_weight=weight, load=load)
            result = _run_one(ctx, name)
            results.append(result)
            what = result.status if result.status == "ok" else f"{result.status}: {result.reason}"
            echo(f"bench: {result.name} {what} ({result.duration_s:.1f} s){_started_on(result)}")
            left = tracker.end_alive()  # nothing one scenario left may weigh on the next
            if left["left_at_end"]:
                result.figures["processes_ended_after"] = left["left_at_end"]
    except KeyboardInterrupt as exc:
        interrupted = str(exc) or "interrupted (Ctrl+C)"
        echo(f"bench: {interrupted}; ending every process it started")
    finally:
        try:
            ctx.close()
        finally:
            cleanup = tracker.cleanup()
            _restore_signals(previous)
            shutil.rmtree(scratch, ignore_errors=True)
    if interrupted:
        report["interrupted"] = interrupted
    report["duration_s"] = round(time.perf_counter() - started, 1)
    report["cleanup"] = cleanup
    report["scenarios"] = [r.to_json() for r in results]
    report["verdicts"] = judge(results)
    echo("")
    echo(render_table(results))
    echo("")
    echo(render_verdicts(report["verdicts"]))
    echo(
        f"\n{report['machine']['cpu_count']} cores, "
        f"{report['machine']['memory_total_bytes'] / 2**30:.1f} GiB; "
        f"{report['duration_s']:.0f} s; processes started {cleanup['processes_started']}, "
        f"Chromium left at the end {cleanup['chromium_left_at_end']}, "
        f"surviving cleanup {cleanup['chromium_surviving_cleanup']}; "
        f"sessions ran in {report['session_browser']}"
    )
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        echo(f"bench: report written to {json_path}")
    failed = any(r.status == "failed" for r in results) or cleanup["surviving_cleanup"] > 0
    if interrupted:
        return 130
    return 1 if failed else 0


def _terminate_as_interrupt() -> dict[int, Any]:
    """SIGTERM and SIGHUP end the run like Ctrl+C does: through the cleanup, not past it."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    return {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def plan(options: BenchOptions, names: Sequence[str]) -> list[tuple[str, str, int]]:
    """(scenario, page weight, busy loops) of each run, in order: a weighted scenario once
    per weight, a load-sensitive one quiet and then loaded (with --load N)."""
    runs: list[tuple[str, str, int]] = []
    for name in names:
        weights = options.page_weights if name in WEIGHTED else ("light",)
        loads = (0, options.load) if name in LOADED and options.load else (0,)
        runs.extend((name, weight, load) for weight in weights for load in loads)
    return runs


def run_label(name: str, weight: str, load: int) -> str:
    """The run's name in the table and the report: the scenario and its variant."""
    label = name + (f" [{weight}]" if weight != "light" else "")
    return label + (f" [load {load}]" if load else "")


def _run_one(ctx: BenchContext, name: str) -> ScenarioResult:
    weight, load = ctx.options.page_weight, ctx.options.load
    result = ScenarioResult(
        run_label(name, weight, load), scenario=name, page_weight=weight, load=load
    )
    result.quiet_wait = _wait_for_quiet(quick=ctx.options.quick)
    result.load_average["start"] = load_average()
    limit = QUICK_LIMIT_S if ctx.options.quick else FULL_LIMIT_S
    started = time.perf_counter()
    with busy_loops(load):
        _run_module(ctx, name, result, limit)
    result.duration_s = time.perf_counter() - started
    result.load_average["end"] = load_average()
    if result.status != "ok":
        result.rows.clear()
    return result


def _wait_for_quiet(*, quick: bool) -> dict[str, Any]:
    """A full run waits for the cores to go quiet; a quick one reads them for a second
    (quiet when that second was)."""
    if quick:
        return wait_for_quiet(QUICK_QUIET_LIMIT_S, quiet_for=QUICK_QUIET_LIMIT_S)
    return wait_for_quiet(QUIET_LIMIT_S)


def _started_on(result: ScenarioResult) -> str:
    """How the machine was when the run started, when it matters: it waited, or it
    started on a busy machine."""
    wait = result.quiet_wait
    if not wait:
        return ""
    if not wait["quiet"]:
        return f"; started on a busy machine, CPU {wait['cpu_busy_percent_at_end']:.0f}% busy"
    if wait["waited_s"] > QUIET_WAIT_WORTH_SAYING_S:
        return f"; waited {wait['waited_s']:.0f} s for the cores to go quiet"
    return ""


def _run_module(ctx: BenchContext, name: str, result: ScenarioResult, limit: float) -> None:
    try:
        module = importlib.import_module(f"app.bench.{SCENARIOS[name]}")
        needs_browser = getattr(module, "NEEDS_BROWSER", True)
        if needs_browser and ctx.chromium_path == "":
            raise Skip("no Chromium found (run `pairdesk doctor`)")
        if hasattr(module, "run_qt"):
            module.run_qt(ctx, result, limit)
        else:
            asyncio.run(_bounded(module.run(ctx, result), limit))
    except Skip as exc:
        result.status, result.reason = "skipped", str(exc)
    except TimeoutError:
        result.status, result.reason = "failed", f"did not finish within {limit:.0f} s"
    except Exception as exc:  # reported, and the next scenario still runs
        result.status = "failed"
        result.reason = _what_failed(exc)
        traceback.print_exc(file=sys.stderr)


def _what_failed(exc: BaseException) -> str:
    """The error a person can act on: a task group's own error, not the group."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}".strip()


async def _bounded(coro: Any, limit: float) -> None:
    async with asyncio.timeout(limit):
        await coro


def _chromium(options: BenchOptions) -> tuple[str | None, str]:
    """Chromium's path (None: Playwright's own download; "": none found), and the
    binary the engine runs sessions in (the headless shell when installed)."""
    from app.engine.chromium import ChromiumNotFound, find_chromium

    configured = options.base_settings.chromium if options.base_settings else ""
    try:
        choice = find_chromium(configured)
    except ChromiumNotFound:
        return "", "no Chromium"
    return choice.path, choice.session_path or "Playwright's own Chromium"


def _with_scratch(options: BenchOptions, scratch: Path, names: tuple[str, ...]) -> BenchOptions:
    return replace(options, scratch=scratch, scenarios=names)
